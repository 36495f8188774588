"""Nightly loyalty jobs, run per tenant by the beat fan-out (settings/celery.py)."""

from __future__ import annotations

from apps.loyalty.services import growth, ledger
from atrium.celery import app


@app.task(name="loyalty.expire_points", max_retries=3)
def expire_points() -> dict[str, int]:
    """Expire every lot past its date and remind members whose points expire soon."""
    return {"expired": ledger.expire_due_lots(), "reminded": ledger.remind_expiring_points()}


@app.task(name="loyalty.evaluate_tiers", max_retries=3)
def evaluate_tiers() -> int:
    """Re-evaluate tiers (rolling 12 months nightly, or the calendar year on 1 January)."""
    return growth.scheduled_tier_evaluation()
