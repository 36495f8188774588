"""An import job: one uploaded CSV file processed in the background, and its bad rows."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q

from apps.imports.choices import ImportKind, ImportStatus


class ImportJob(models.Model):
    """A CSV file an operator uploaded, processed row by row by a Celery task."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    # Sales imports record the sales of one merchant; member imports have none.
    merchant = models.ForeignKey(
        "merchants.Merchant", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    filename = models.CharField(max_length=200)
    # Relative to the tenant's private folder (PRIVATE_ROOT/<schema>/); never a URL.
    file_path = models.CharField(max_length=200)
    total_rows = models.PositiveIntegerField()
    processed = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)  # why the whole job failed
    created_by = models.ForeignKey("accounts.StaffUser", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = (
            models.CheckConstraint(
                condition=Q(processed__lte=F("total_rows")), name="importjob_processed_le_total"
            ),
            models.CheckConstraint(
                condition=Q(succeeded=F("processed") - F("failed")),
                name="importjob_counts_add_up",
            ),
            models.CheckConstraint(
                condition=Q(kind=ImportKind.SALES, merchant__isnull=False)
                | Q(kind=ImportKind.MEMBERS, merchant__isnull=True),
                name="importjob_merchant_iff_sales",
            ),
        )

    def __str__(self) -> str:
        return f"{self.kind} import {self.filename} ({self.status})"


class ImportRowFailure(models.Model):
    """Why one row (one field of it) was not imported."""

    id = models.BigAutoField(primary_key=True)
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_failures")
    row = models.PositiveIntegerField()  # the row number in the file, the header being row 1
    field = models.CharField(max_length=40, blank=True)
    code = models.CharField(max_length=64)
    message = models.CharField(max_length=300)

    class Meta:
        ordering = ("row", "id")

    def __str__(self) -> str:
        return f"row {self.row}: {self.code}"
