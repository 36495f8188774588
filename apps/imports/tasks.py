"""The background half of an import: the task that processes a queued job's rows."""

from __future__ import annotations

import uuid

from apps.imports import services
from atrium.celery import app


@app.task(name="imports.run_job", max_retries=3)
def run_import_job(job_id: str) -> dict[str, int | str]:
    """Process an import job's rows from where it stopped (safe to run again)."""
    job = services.run_import(job_id=uuid.UUID(job_id))
    return {
        "status": job.status,
        "processed": job.processed,
        "succeeded": job.succeeded,
        "failed": job.failed,
    }
