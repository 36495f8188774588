"""Settlement statements: one per merchant per closed period, made of aggregated lines.

Imported by `apps.settlement.models` (Django finds models there). A statement's totals are
derived from its lines by `services.statements.totals_of` and stored beside them; the net is
also checked by the database. Lines are never edited: a late money line rolls into the next
period (see `selectors.settle_on`), never into a closed one.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from apps.merchants.choices import SettlementCycle
from apps.merchants.models import Contract, Merchant
from apps.settlement.statement_choices import LineSection, PayoutRoute, StatementStatus

ZERO = Decimal("0.00")


def _money(**kwargs: object) -> models.DecimalField[Decimal, Decimal]:
    return models.DecimalField(max_digits=14, decimal_places=2, default=ZERO, **kwargs)  # type: ignore[arg-type]


class Statement(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(max_length=40, unique=True)  # ST-<yyyymmdd>-<merchant8>
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="statements")
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="statements")
    contract_kind = models.CharField(max_length=24)
    cycle = models.CharField(max_length=8, choices=SettlementCycle.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(
        max_length=10, choices=StatementStatus.choices, default=StatementStatus.DRAFT
    )
    # Totals, each the sum of some of the lines (see services.statements.totals_of).
    gross_sales = _money()
    refunds = _money()
    commission = _money()
    channel_fees = _money()
    platform_fees = _money()
    subsidies = _money()
    merchant_due = _money()  # Σ split lines of party merchant (shares and subsidies)
    points_clearing = _money()
    rent = _money()
    minimum_topup = _money()
    net_payable = _money()  # > 0 the mall pays the merchant; < 0 the merchant owes the mall
    line_count = models.PositiveIntegerField(default=0)  # money lines aggregated
    payout_route = models.CharField(
        max_length=8, choices=PayoutRoute.choices, default=PayoutRoute.NONE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_by = models.CharField(max_length=64, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.CharField(max_length=64, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.CharField(max_length=64, blank=True)  # "auto" after N days
    disputed_at = models.DateTimeField(null=True, blank=True)
    disputed_by = models.CharField(max_length=64, blank=True)
    dispute_reason = models.CharField(max_length=500, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=64, blank=True)
    resolution = models.CharField(max_length=500, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.CharField(max_length=64, blank=True)
    payout_reference = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ("-period_end", "merchant_id")
        constraints = (
            models.UniqueConstraint(
                fields=("merchant", "period_start"), name="statement_period_uniq"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")), name="statement_period_ordered"
            ),
            models.CheckConstraint(
                condition=Q(
                    net_payable=F("merchant_due")
                    + F("points_clearing")
                    - F("rent")
                    - F("minimum_topup")
                ),
                name="statement_net_is_the_sum",
            ),
            models.CheckConstraint(
                condition=Q(rent__gte=0) & Q(minimum_topup__gte=0),
                name="statement_charges_positive",
            ),
            models.CheckConstraint(
                condition=~Q(status=StatementStatus.PAID) | ~Q(payout_reference=""),
                name="statement_paid_has_reference",
            ),
        )
        indexes = (
            models.Index(fields=("status", "-period_end"), name="statement_status_idx"),
            models.Index(fields=("merchant", "-period_end"), name="statement_merchant_idx"),
        )

    def __str__(self) -> str:
        return f"{self.number} {self.status}"


class StatementLine(models.Model):
    """One aggregated row: the sum and count of money lines of one kind in the period."""

    id = models.BigAutoField(primary_key=True)
    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    section = models.CharField(max_length=16, choices=LineSection.choices)
    party = models.CharField(
        max_length=10, blank=True
    )  # split lines: merchant|mall|channel|platform
    kind = models.CharField(max_length=16, blank=True)  # split line kind or clearing role
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    points = models.BigIntegerField(default=0)  # clearing lines
    count = models.PositiveIntegerField(default=0)  # money lines aggregated (0: from contract)
    in_net = models.BooleanField()  # counted in the net payable

    class Meta:
        ordering = ("statement", "position")
        constraints = (
            models.UniqueConstraint(
                fields=("statement", "position"), name="statement_line_pos_uniq"
            ),
        )

    def __str__(self) -> str:
        return f"{self.section} {self.party} {self.kind} {self.amount}"
