"""Reads of import jobs, for the console and its API. Each kind needs its own permission."""

from __future__ import annotations

import csv
import io
import uuid

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from apps.accounts.permissions import Permission, has_permission, require
from apps.imports.choices import ImportKind
from apps.imports.errors import ImportJobNotFoundError
from apps.imports.models import ImportJob, ImportRowFailure

# Importing members needs the right to manage members; importing a merchant's sales, merchants.
KIND_PERMISSIONS = {
    ImportKind.MEMBERS: Permission.MANAGE_MEMBERS,
    ImportKind.SALES: Permission.MANAGE_MERCHANTS,
}
REPORT_HEADER = ("row", "field", "code", "message")


def kinds_allowed(*, role: str) -> list[str]:
    """The kinds of import a staff role may start and read."""
    return [
        kind for kind, permission in KIND_PERMISSIONS.items() if has_permission(role, permission)
    ]


def get_job(*, job_id: uuid.UUID | str) -> ImportJob:
    """One job of this mall. Raises ImportJobNotFoundError."""
    try:
        job = ImportJob.objects.select_related("merchant").filter(pk=job_id).first()
    except (ValueError, ValidationError):
        job = None
    if job is None:
        raise ImportJobNotFoundError("import job not found")
    return job


def access_job(*, job_id: uuid.UUID | str, role: str) -> ImportJob:
    """One job, if the role may handle its kind. Raises ImportJobNotFoundError,
    PermissionDeniedError."""
    job = get_job(job_id=job_id)
    require(role, KIND_PERMISSIONS[ImportKind(job.kind)])
    return job


def list_jobs(*, role: str) -> QuerySet[ImportJob]:
    """Jobs of the kinds the role may handle, newest first."""
    return ImportJob.objects.select_related("merchant").filter(kind__in=kinds_allowed(role=role))


def list_row_failures(*, job: ImportJob) -> QuerySet[ImportRowFailure]:
    """The job's bad rows, in file order."""
    return ImportRowFailure.objects.filter(job=job).order_by("row", "id")


def error_report_csv(*, job: ImportJob) -> bytes:
    """The bad rows as a CSV file (UTF-8 with BOM, so Excel opens it as such)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REPORT_HEADER)
    for failure in list_row_failures(job=job):
        writer.writerow((failure.row, failure.field, failure.code, failure.message))
    return buffer.getvalue().encode("utf-8-sig")
