"""Kernel tasks: the beat fan-out, the outbox relay and prune, and a probe for operators."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache

from atrium import outbox
from atrium.celery import app
from atrium.errors import DomainError
from atrium.tenancy import current_schema, tenant_connection
from tenants.selectors import list_active_schema_names

logger = logging.getLogger(__name__)


class ProbeError(DomainError):
    """Raised on purpose by `atrium.probe` to check that task errors reach Sentry and the logs."""

    code, http_status = "atrium.probe_failed", 500


@app.task(name="atrium.fan_out", max_retries=0, tenant_required=False)
def fan_out(
    task_name: str,
    spread_seconds: float = 30.0,
    expires_seconds: float | None = None,
) -> int:
    """Beat's entry point: enqueue `task_name` once per active tenant, spread over a window."""
    task = app.tasks[task_name]
    schemas = list_active_schema_names()
    for index, schema in enumerate(schemas):
        # Evenly staggered, so a thousand malls do not hit the database in the same second.
        countdown = spread_seconds * index / len(schemas)
        task.apply_async(
            headers={"_schema_name": schema},
            countdown=countdown,
            expires=None if expires_seconds is None else countdown + expires_seconds,
        )
    logger.info("atrium.fanned_out", extra={"task": task_name, "tenants": len(schemas)})
    return len(schemas)


@app.task(name="atrium.outbox.relay", max_retries=0)
def relay_outbox() -> dict[str, int]:
    """Deliver this tenant's undelivered outbox events (re-run by the sweep, never retried)."""
    cache.delete(outbox.relay_queued_key(current_schema()))  # before reading: see enqueue_relay
    result = outbox.relay_pending(limit=settings.OUTBOX_RELAY_BATCH)
    return {"delivered": result.delivered, "failed": result.failed}


@app.task(name="atrium.outbox.prune", max_retries=0)
def prune_outbox() -> int:
    """Delete this tenant's delivered outbox events past the retention."""
    return outbox.prune_delivered(older_than_days=settings.OUTBOX_RETENTION_DAYS)


@app.task(name="atrium.probe", max_retries=0, ignore_result=False)
def probe(fail_with: str = "") -> dict[str, Any]:
    """Report the schema the task ran in; with `fail_with`, raise it (checks Sentry and logs)."""
    if fail_with:
        raise ProbeError(fail_with)
    return {"schema": current_schema(), "tenant": tenant_connection().tenant.slug}
