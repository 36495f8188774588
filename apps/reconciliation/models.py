"""Daily reconciliation of a payment channel's bill against the payments recorded here.

One `ReconciliationRun` per (channel, bill date): the counts and totals of the last import of
that day's bill; importing the very same file again changes nothing, another file for the day
replaces the run's figures and breaks. Only breaks are stored line by line; matches are counted.
"""

from __future__ import annotations

import uuid

from django.db import models

from apps.reconciliation.choices import BillChannel, BreakKind, LineKind, RunStatus


class ReconciliationRun(models.Model):
    """A channel's bill of one day, matched against our payments and refunds of that day."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.CharField(max_length=16, choices=BillChannel.choices)
    bill_date = models.DateField()
    file_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=RunStatus.choices)
    matched = models.PositiveIntegerField(default=0)
    missing_ours = models.PositiveIntegerField(default=0)
    missing_theirs = models.PositiveIntegerField(default=0)
    amount_mismatch = models.PositiveIntegerField(default=0)
    bill_payment_total = models.DecimalField(max_digits=14, decimal_places=2)
    bill_refund_total = models.DecimalField(max_digits=14, decimal_places=2)
    our_payment_total = models.DecimalField(max_digits=14, decimal_places=2)
    our_refund_total = models.DecimalField(max_digits=14, decimal_places=2)
    imported_by = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-bill_date", "channel")
        constraints = (
            models.UniqueConstraint(fields=("channel", "bill_date"), name="recon_run_day_uniq"),
        )

    def __str__(self) -> str:
        return f"{self.channel} {self.bill_date} {self.status}"


class ReconciliationBreak(models.Model):
    """One line that did not match: missing on our side, on theirs, or with another amount."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="breaks")
    kind = models.CharField(max_length=16, choices=BreakKind.choices)
    line_kind = models.CharField(max_length=16, choices=LineKind.choices)
    trade_no = models.CharField(max_length=64)
    refund_no = models.CharField(max_length=64, blank=True)
    bill_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    our_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    sale_id = models.UUIDField(null=True, blank=True)
    merchant = models.ForeignKey(
        "merchants.Merchant", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ("kind", "trade_no", "refund_no")

    def __str__(self) -> str:
        return f"{self.kind} {self.trade_no}"
