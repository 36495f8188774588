"""Import jobs: an upload is checked, stored privately and queued; a Celery task then processes
its rows in chunks through the same services as every other surface (`join_member`,
`record_sale`).

Re-runnable by design (tasks are `acks_late`, so a job may run twice): each chunk's counts and
bad rows are committed together with the job's `processed` mark, under the job's row lock, and
a run resumes from that mark. Rows of a chunk that died half-way are processed again, which
records nothing twice: a phone that has a member is left alone, and `record_sale` is idempotent
on (merchant, external id). A chunk another run already committed is not counted again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from functools import partial

from django.db import DatabaseError, transaction
from django.utils import timezone

from apps.accounts.models import StaffUser
from apps.imports import locks, storage
from apps.imports.choices import FINISHED, ImportKind, ImportStatus
from apps.imports.errors import ImportJobInvalidError
from apps.imports.models import ImportJob, ImportRowFailure
from apps.imports.selectors import get_job
from apps.members import services as member_services
from apps.merchants.models import Merchant
from apps.sales import services as sales_services
from atrium.csv_import import ImportRowError
from atrium.errors import DomainError

logger = logging.getLogger(__name__)

CHUNK_ROWS = 100
Rows = list[tuple[int, dict[str, str]]]


def _read(kind: str, content: bytes) -> Rows:
    if kind == ImportKind.MEMBERS:
        return member_services.read_members_file(content)
    return sales_services.read_sales_file(content)


def start_import(
    *,
    kind: str,
    content: bytes,
    filename: str,
    created_by: StaffUser,
    merchant: Merchant | None = None,
) -> ImportJob:
    """Check a file, store it privately and queue a job that imports it (after commit).

    Raises ImportJobInvalidError, and the app's ImportInvalidError for a file that cannot be
    read at all (encoding, missing columns, too large, too many rows).
    """
    if kind not in ImportKind.values:
        raise ImportJobInvalidError("unknown kind of import", field="kind", kind=kind)
    if (kind == ImportKind.SALES) != (merchant is not None):
        raise ImportJobInvalidError(
            "a sales import needs a merchant, a member import none", field="merchant_id"
        )
    rows = _read(kind, content)
    relative = storage.save_upload(content)
    try:
        with transaction.atomic():
            job = ImportJob.objects.create(
                kind=kind,
                merchant=merchant,
                filename=filename[:200],
                file_path=relative,
                total_rows=len(rows),
                created_by=created_by,
            )
            transaction.on_commit(partial(_enqueue, job.pk), robust=True)
    except DatabaseError:
        storage.delete_upload(relative)
        raise
    logger.info("imports.queued", extra={"job_id": str(job.pk), "kind": kind, "rows": len(rows)})
    return job


def _enqueue(job_id: uuid.UUID) -> None:
    from apps.imports.tasks import run_import_job  # the tasks module imports this one

    run_import_job.delay(str(job_id))


def _import_row(job: ImportJob, line: int, values: dict[str, str]) -> list[ImportRowError]:
    if job.kind == ImportKind.MEMBERS:
        _, errors = member_services.import_member_row(line=line, values=values)
        return errors
    assert job.merchant is not None  # noqa: S101 - a database constraint guarantees it
    try:
        sales_services.import_sale_row(
            merchant=job.merchant, row=values, actor=f"staff:{job.created_by_id}"
        )
    except DomainError as exc:
        return [sales_services.row_error(line, exc)]
    return []


@transaction.atomic
def _commit_chunk(
    job_id: uuid.UUID, *, start: int, size: int, failures: Sequence[ImportRowError]
) -> bool:
    """Count a chunk once; False when another run already did (then this run stops)."""
    job = locks.job_for_update(job_id=job_id)
    if job.processed != start or job.status in FINISHED:
        return False
    ImportRowFailure.objects.bulk_create(
        [
            ImportRowFailure(
                job=job, row=f.row, field=f.field[:40], code=f.code, message=f.message[:300]
            )
            for f in failures
        ]
    )
    bad_rows = len({f.row for f in failures})
    job.processed = start + size
    job.failed += bad_rows
    job.succeeded += size - bad_rows
    fields = ["processed", "failed", "succeeded"]
    if job.processed == job.total_rows:
        job.status, job.finished_at = ImportStatus.DONE, timezone.now()
        fields += ["status", "finished_at"]
    job.save(update_fields=fields)
    return True


def _mark_running(job: ImportJob) -> None:
    if job.status == ImportStatus.QUEUED:
        job.status, job.started_at = ImportStatus.RUNNING, timezone.now()
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.QUEUED).update(
            status=job.status, started_at=job.started_at
        )


def _fail(job: ImportJob, reason: str) -> ImportJob:
    job.status, job.error, job.finished_at = ImportStatus.FAILED, reason[:300], timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    logger.warning("imports.failed", extra={"job_id": str(job.pk), "reason": job.error})
    return job


def run_import(*, job_id: uuid.UUID) -> ImportJob:
    """Import a job's rows from where it stopped, a chunk at a time; a finished job is left as
    it is. Raises ImportJobNotFoundError."""
    job = get_job(job_id=job_id)
    if job.status in FINISHED:
        return job
    _mark_running(job)
    try:
        rows = _read(job.kind, storage.read_upload(job.file_path))
    except OSError:
        return _fail(job, "the uploaded file is gone")
    except DomainError as exc:
        return _fail(job, exc.message)
    if len(rows) != job.total_rows:
        return _fail(job, "the uploaded file changed")
    if not rows:
        _commit_chunk(job.pk, start=0, size=0, failures=())
    start = job.processed
    while start < len(rows):
        chunk = rows[start : start + CHUNK_ROWS]
        failures = [error for line, values in chunk for error in _import_row(job, line, values)]
        if not _commit_chunk(job.pk, start=start, size=len(chunk), failures=failures):
            break
        start += len(chunk)
    job.refresh_from_db()
    logger.info(
        "imports.ran",
        extra={"job_id": str(job.pk), "processed": job.processed, "failed": job.failed},
    )
    return job
