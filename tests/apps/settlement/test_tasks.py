"""The beat job: periods close per tenant through a real Celery worker, in the tenant's zone."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.merchants.services import create_merchant
from apps.settlement.models import Statement
from apps.settlement.tasks import close_periods, tenant_today
from tests.apps.settlement.statement_helpers import at, concession_sale, contract


def test_today_is_the_tenant_s_own(mall_a):
    now = timezone.now()
    for zone, offset in (("Pacific/Kiritimati", 14), ("Pacific/Pago_Pago", -11)):
        mall_a.timezone = zone
        with tenant_context(mall_a):
            assert tenant_today() == (now + dt.timedelta(hours=offset)).date()


@pytest.mark.usefixtures("celery_worker")
def test_the_beat_task_closes_due_periods_in_its_tenant(make_committed_tenant, django_db_blocker):
    with django_db_blocker.unblock():
        tenant = make_committed_tenant()
        today = timezone.localdate()
        last_month_end = today.replace(day=1) - dt.timedelta(days=1)
        last_month_start = last_month_end.replace(day=1)
        with tenant_context(tenant):
            shop = create_merchant(name="定时店")
            contract(shop, effective_from=last_month_start)
            concession_sale(shop, "250.00", "0.20", at(last_month_start + dt.timedelta(days=3)))
            result = close_periods.apply_async(ignore_result=False).get(timeout=60)
            assert result == {"closed": 1, "auto_confirmed": 0}
            [statement] = Statement.objects.filter(merchant=shop)
            assert (statement.period_start, statement.period_end, statement.net_payable) == (
                last_month_start, last_month_end, Decimal("200.00"),
            )  # fmt: skip
            assert close_periods.apply_async(ignore_result=False).get(timeout=60) == {
                "closed": 0, "auto_confirmed": 0,
            }  # fmt: skip
