"""Every row lock of the imports app: the job row, while a chunk's counts are committed."""

from __future__ import annotations

import uuid

from apps.imports.models import ImportJob


def job_for_update(*, job_id: uuid.UUID) -> ImportJob:
    """The job row, locked until the transaction ends."""
    return ImportJob.objects.select_for_update().get(pk=job_id)
