"""The loyalty program of one mall: settings, tiers, earning rules, and the points and growth ledgers.

The points ledger is double-entry: every movement is a `JournalEntry` whose `Posting`s sum to
zero across a member's account and the program's system accounts (issued, redeemed, expired,
adjusted, reversed). Earned points live in `PointsLot`s that remember who issued them and when
they expire; `LotMovement` records every change of a lot, so clearing (issue 6) can charge and
reimburse merchants lot by lot, exactly as points were consumed.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from apps.loyalty.choices import (
    AdjustmentStatus,
    Behaviour,
    EntryKind,
    LedgerAccount,
    LotSource,
    RuleKind,
    RuleStatus,
    TierEvaluation,
)


class ProgramSettings(models.Model):
    """The mall's program parameters (one row per tenant schema, pk=1)."""

    point_value = models.DecimalField(max_digits=8, decimal_places=4, default=Decimal("0.0100"))
    points_validity_months = models.PositiveSmallIntegerField(default=12)
    pending_days = models.PositiveSmallIntegerField(default=0)
    growth_per_yuan = models.DecimalField(max_digits=8, decimal_places=4, default=Decimal(1))
    tier_evaluation = models.CharField(
        max_length=24, choices=TierEvaluation.choices, default=TierEvaluation.ROLLING_12_MONTHS
    )
    expiry_reminder_days = models.PositiveSmallIntegerField(default=30)
    adjustment_approval_threshold = models.BigIntegerField(default=1000)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"program settings ({self.point_value} ¥/point)"


class Tier(models.Model):
    """A membership level (普卡/银卡/金卡/钻石卡), reached at a growth-value threshold."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=50)
    rank = models.PositiveSmallIntegerField(unique=True)
    growth_threshold = models.BigIntegerField(default=0)
    retention_growth = models.BigIntegerField(default=0)
    points_multiplier = models.DecimalField(max_digits=4, decimal_places=2, default=1)
    free_parking_hours = models.PositiveSmallIntegerField(default=0)
    birthday_gift = models.CharField(max_length=200, blank=True)
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal(0))
    perks = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ("rank",)

    def __str__(self) -> str:
        return self.name


class EarningRule(models.Model):
    """A versioned earning rule: a rate, a multiplier, an exclusion or a cap, with its scope.

    Published rules are never edited: a change is a new version (`supersedes`) effective from a
    date, so a past sale can always be explained by the rules in force on its day.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=RuleKind.choices, default=RuleKind.RATE)
    status = models.CharField(max_length=16, choices=RuleStatus.choices, default=RuleStatus.DRAFT)
    points_per_yuan = models.DecimalField(max_digits=8, decimal_places=4, default=Decimal(0))
    multiplier = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal(1))
    per_sale_cap = models.BigIntegerField(null=True, blank=True)
    per_day_cap = models.BigIntegerField(null=True, blank=True)
    merchant_id = models.UUIDField(null=True, blank=True)
    business_format = models.CharField(max_length=32, blank=True)
    category = models.CharField(max_length=64, blank=True)
    weekdays = models.JSONField(default=list, blank=True)  # ISO weekdays 1..7
    dates = models.JSONField(default=list, blank=True)  # ISO dates "2026-11-11"
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    is_base = models.BooleanField(default=False)
    supersedes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.CharField(max_length=64, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-effective_from", "-id")

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}, from {self.effective_from})"


class BehaviourRule(models.Model):
    """Points for something a member does: sign up, check in, refer a friend, walk, ..."""

    behaviour = models.CharField(max_length=32, choices=Behaviour.choices, unique=True)
    points = models.BigIntegerField()
    units_per_award = models.PositiveIntegerField(default=1)  # e.g. 1,000 steps per award
    daily_cap = models.BigIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.behaviour}: {self.points}"


class PointsAccount(models.Model):
    """A member's points balance, growth value and tier; the row every ledger write locks."""

    member = models.OneToOneField(
        "members.Member", primary_key=True, on_delete=models.PROTECT, related_name="points"
    )
    balance = models.BigIntegerField(default=0)
    growth = models.BigIntegerField(default=0)
    tier = models.ForeignKey(Tier, null=True, on_delete=models.PROTECT, related_name="+")
    tier_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = (
            models.CheckConstraint(condition=Q(balance__gte=0), name="points_balance_not_negative"),
        )

    def __str__(self) -> str:
        return f"{self.member_id}: {self.balance}"


class JournalEntry(models.Model):
    """One movement of points; its postings sum to zero."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    # Every index is paid by every sale: where a composite index leads with a foreign key, the
    # key gets no index of its own (docs/adr/0016-sale-writer-round-trips.md).
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    points = models.BigIntegerField()  # net change of the member's balance
    idempotency_key = models.CharField(max_length=200, unique=True)
    request_hash = models.CharField(max_length=64)
    reason = models.CharField(max_length=200, blank=True)
    source_type = models.CharField(max_length=32, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    merchant_id = models.UUIDField(null=True, blank=True)
    actor = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = (
            models.Index(fields=("member", "-created_at")),
            models.Index(fields=("source_type", "source_id")),
        )

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d}"


class Posting(models.Model):
    """One side of a journal entry: an amount on the member's account or a system account."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.CharField(max_length=16, choices=LedgerAccount.choices)
    member = models.ForeignKey(
        "members.Member", null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )  # (member, account) below
    amount = models.BigIntegerField()

    class Meta:
        constraints = (
            models.CheckConstraint(
                condition=Q(account=LedgerAccount.MEMBER, member__isnull=False)
                | (~Q(account=LedgerAccount.MEMBER) & Q(member__isnull=True)),
                name="posting_member_only_on_member_account",
            ),
        )
        indexes = (models.Index(fields=("member", "account")),)

    def __str__(self) -> str:
        return f"{self.account} {self.amount:+d}"


class PointsLot(models.Model):
    """Points earned together: who issued them, when they become spendable and expire."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lots")
    source = models.CharField(max_length=16, choices=LotSource.choices)
    issuer_merchant_id = models.UUIDField(null=True, blank=True)  # None: issued by the mall
    original = models.BigIntegerField()
    remaining = models.BigIntegerField()
    earned_at = models.DateTimeField()
    available_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ("expires_at", "earned_at", "id")
        constraints = (
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("original")),
                name="lot_remaining_within_original",
            ),
        )
        indexes = (
            models.Index(
                fields=("member", "expires_at"), condition=Q(remaining__gt=0), name="open_lots_idx"
            ),
            models.Index(
                fields=("expires_at",), condition=Q(remaining__gt=0), name="lots_to_expire_idx"
            ),
        )

    def __str__(self) -> str:
        return f"lot {self.remaining}/{self.original}"


class LotMovement(models.Model):
    """A change of one lot by one entry: creation (+) or consumption (-)."""

    lot = models.ForeignKey(PointsLot, on_delete=models.PROTECT, related_name="movements")
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="movements")
    amount = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.amount:+d}"


class GrowthEntry(models.Model):
    """One change of a member's growth value (its own ledger, separate from points)."""

    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", db_index=False
    )  # (member, created_at) below
    delta = models.BigIntegerField()
    reason = models.CharField(max_length=100)
    source_type = models.CharField(max_length=32, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = (models.Index(fields=("member", "created_at")),)

    def __str__(self) -> str:
        return f"{self.reason} {self.delta:+d}"


class TierChange(models.Model):
    """A member's move between tiers, with why."""

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    from_tier = models.ForeignKey(Tier, null=True, on_delete=models.PROTECT, related_name="+")
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=32)
    growth = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.from_tier_id} -> {self.to_tier_id} ({self.reason})"


class AdjustmentRequest(models.Model):
    """An operator's manual adjustment; above the threshold it waits for a second operator."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    points = models.BigIntegerField()
    reason = models.CharField(max_length=200)
    status = models.CharField(
        max_length=16, choices=AdjustmentStatus.choices, default=AdjustmentStatus.PENDING
    )
    requested_by = models.CharField(max_length=64)
    decided_by = models.CharField(max_length=64, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    entry = models.ForeignKey(JournalEntry, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.points:+d} ({self.status})"
