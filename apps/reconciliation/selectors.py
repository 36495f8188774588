"""Reads of the reconciliation app (console only: finance sees every merchant)."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from apps.reconciliation.errors import RunNotFoundError
from apps.reconciliation.models import ReconciliationBreak, ReconciliationRun


def list_runs(*, channel: str | None = None) -> QuerySet[ReconciliationRun]:
    """Daily runs, newest day first."""
    runs = ReconciliationRun.objects.all()
    return runs.filter(channel=channel) if channel else runs


def get_run(*, run_id: uuid.UUID) -> ReconciliationRun:
    """Raises RunNotFoundError."""
    run = ReconciliationRun.objects.filter(pk=run_id).first()
    if run is None:
        raise RunNotFoundError("no such reconciliation run", run_id=str(run_id))
    return run


def list_breaks(*, run: ReconciliationRun) -> QuerySet[ReconciliationBreak]:
    return run.breaks.select_related("merchant").order_by("kind", "trade_no", "refund_no", "id")
