"""Points-alliance clearing (通积通兑): who pays whom when points change hands.

When a member pays with points at merchant Y, Y (the *acceptor*) is credited the points' value
at the clearing value in force (`loyalty.ProgramSettings.point_value`), and the *funders* of the
lots consumed are charged, lot by lot, exactly as the ledger consumed them: the issuing merchant
and/or the mall, by the `FundingPolicy` in force when the lot was earned (mall-granted lots —
behaviours, adjustments — are wholly mall-funded). The lines of one journal entry sum to zero,
lot by lot. A refund writes the proportional negative lines under its own entry.

Expiry writes no line: a funder is only ever charged when its points are spent, so an expired
lot simply leaves the outstanding liability (open lots × value) without ever costing anyone.
The role `release` is kept in the choices for a future policy that pre-charges funders.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from apps.clearing.choices import ClearingRole, FundingSource


class FundingPolicy(models.Model):
    """Who funds merchant-issued points, from a moment on. Rows are never edited: a change is a
    new row effective from its creation, so the policy of a lot (by its `earned_at`) never moves.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=16, choices=FundingSource.choices)
    # The issuing merchant's share of a merchant-issued lot (1 = merchant, 0 = mall).
    merchant_share = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
    )
    effective_from = models.DateTimeField(db_index=True)
    created_by = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-effective_from", "-created_at")
        constraints = (
            models.CheckConstraint(
                condition=Q(merchant_share__gte=0) & Q(merchant_share__lte=1),
                name="funding_share_within_0_1",
            ),
        )

    def __str__(self) -> str:
        return f"{self.source} {self.merchant_share} from {self.effective_from}"


class ClearingLine(models.Model):
    """One party's side of one lot's consumption (or its return) in one journal entry.

    `merchant` null is the mall itself. Amounts are signed: acceptor +, funder −, and the
    negatives on a refund. The lines of an entry sum to zero, lot by lot.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    entry_id = models.UUIDField(db_index=True)  # loyalty JournalEntry (redeem / reverse)
    lot_id = models.UUIDField()  # the loyalty PointsLot consumed (or returned to)
    merchant = models.ForeignKey(
        "merchants.Merchant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="clearing_lines",
    )
    role = models.CharField(max_length=16, choices=ClearingRole.choices)
    points = models.BigIntegerField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    settle_on = models.DateField(null=True, blank=True)  # merchant lines only
    occurred_at = models.DateTimeField()
    # The sale whose points payment (or refund) this line clears, and the refund id.
    sale_id = models.UUIDField(null=True, blank=True, db_index=True)
    refund_id = models.CharField(max_length=64, blank=True)
    # Snapshot of the funding policy applied to the lot (the issuing merchant's share).
    merchant_share = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-occurred_at", "id")
        indexes = (
            models.Index(fields=("merchant", "settle_on")),
            models.Index(fields=("merchant", "-occurred_at")),
        )
        constraints = (
            models.CheckConstraint(
                condition=Q(merchant__isnull=True) | Q(settle_on__isnull=False),
                name="clearing_merchant_line_has_settle_on",
            ),
        )

    def __str__(self) -> str:
        return f"{self.role} {self.merchant_id or 'mall'} {self.amount}"
