"""Settlement: the money lines of every sale and the periods they are settled in."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q

from apps.merchants.models import Merchant
from apps.settlement.choices import LineKind, Party, RuleKind, RuleStatus


class SettlementCursor(models.Model):
    """Per merchant, the last local date whose settlement period is closed.

    Every money line (split, clearing) carries a `settle_on` date, given at write time by
    `selectors.settle_on`: the line's own local date, or the day after `closed_through` when that
    date is already closed. A late line thus rolls into the next open period, never into a closed
    one, and closing a period is one aggregate over `settle_on`.
    """

    merchant = models.OneToOneField(
        Merchant, primary_key=True, on_delete=models.CASCADE, related_name="settlement_cursor"
    )
    closed_through = models.DateField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "settlement cursor"

    def __str__(self) -> str:
        return f"{self.merchant_id} closed through {self.closed_through}"


class SplitRule(models.Model):
    """One version of a split rule. A published version is never edited: a change is a new
    version of the same `rule_key`, in force from its own `effective_from` (a version with
    `enabled=False` switches the rule off from that day). Past lines never change.

    Scope fields left blank match anything; among the rules of one kind matching a portion of a
    sale, the highest `priority` wins, then the most specific scope, then the newest version.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    rule_key = models.UUIDField(default=uuid.uuid4, db_index=True)
    version = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=RuleKind.choices)
    rate = models.DecimalField(max_digits=5, decimal_places=4)
    priority = models.IntegerField(default=0)
    enabled = models.BooleanField(default=True)
    business_format = models.CharField(max_length=32, blank=True)
    merchant = models.ForeignKey(
        Merchant, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    category = models.CharField(max_length=64, blank=True)
    payment_method = models.CharField(max_length=16, blank=True)
    campaign = models.CharField(max_length=64, blank=True)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=RuleStatus.choices, default=RuleStatus.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=64, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("-priority", "name", "-version")
        constraints = (
            models.UniqueConstraint(fields=("rule_key", "version"), name="split_rule_version_uniq"),
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lte=1), name="split_rule_rate_range"
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=F("effective_from")),
                name="split_rule_period_ordered",
            ),
        )

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class SplitLine(models.Model):
    """One party's share of a sale (refund null) or of a refund (the negative of its share).

    A sale's own lines sum exactly to `sale.total`; a refund's lines sum exactly to
    `-refund.amount`, and all refunds of a fully refunded sale negate its lines exactly.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # sale and merchant: indexed by the composite indexes below (every index is paid by every
    # sale, docs/adr/0016-sale-writer-round-trips.md).
    sale = models.ForeignKey(
        "sales.Sale", on_delete=models.PROTECT, related_name="split_lines", db_index=False
    )
    refund = models.ForeignKey(
        "sales.Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="split_lines"
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="split_lines", db_index=False
    )
    party = models.CharField(max_length=10, choices=Party.choices)
    kind = models.CharField(max_length=16, choices=LineKind.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    settle_on = models.DateField()
    occurred_at = models.DateTimeField()
    rule = models.ForeignKey(
        SplitRule, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    why = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("occurred_at", "id")
        indexes = (
            models.Index(fields=("merchant", "settle_on"), name="split_line_settle_idx"),
            models.Index(fields=("sale", "refund"), name="split_line_sale_idx"),
            models.Index(fields=("merchant", "-occurred_at"), name="split_line_merchant_idx"),
        )

    def __str__(self) -> str:
        return f"{self.party} {self.kind} ¥{self.amount}"


# Statements live in their own module; imported here so that Django registers them.
from apps.settlement.statement_models import Statement, StatementLine  # noqa: E402

__all__ = ["SettlementCursor", "SplitLine", "SplitRule", "Statement", "StatementLine"]
