"""Settlement jobs, run per tenant by the beat fan-out (settings/celery.py): close the periods
that ended (in the tenant's time zone) and confirm statements left unanswered."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from apps.settlement.services import statements
from atrium.celery import app
from atrium.tenancy import tenant_connection


def tenant_today() -> dt.date:
    """Today in the current tenant's time zone (a mall in Urumqi closes on its own midnight)."""
    zone = getattr(tenant_connection().tenant, "timezone", "") or settings.TIME_ZONE
    return timezone.now().astimezone(ZoneInfo(zone)).date()


@app.task(name="settlement.close_periods", max_retries=3)
def close_periods() -> dict[str, int]:
    """Close every merchant's periods that ended before today, then auto-confirm."""
    closed = statements.close_due_periods(today=tenant_today(), actor="beat")
    confirmed = statements.auto_confirm_statements(
        now=timezone.now(), after_days=settings.SETTLEMENT_AUTO_CONFIRM_DAYS
    )
    return {"closed": len(closed), "auto_confirmed": confirmed}
