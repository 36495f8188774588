import datetime as dt
import uuid
from decimal import Decimal

from ninja import Field, Schema

from apps.loyalty.choices import Behaviour, RuleKind, TierEvaluation


class ProgramSettingsOut(Schema):
    point_value: Decimal
    points_validity_months: int
    pending_days: int
    growth_per_yuan: Decimal
    tier_evaluation: str
    expiry_reminder_days: int
    adjustment_approval_threshold: int


class ProgramSettingsIn(Schema):
    point_value: Decimal | None = Field(default=None, gt=0, max_digits=8, decimal_places=4)
    points_validity_months: int | None = Field(default=None, ge=1, le=120)
    pending_days: int | None = Field(default=None, ge=0, le=90)
    growth_per_yuan: Decimal | None = Field(default=None, ge=0, max_digits=8, decimal_places=4)
    tier_evaluation: TierEvaluation | None = None
    expiry_reminder_days: int | None = Field(default=None, ge=0, le=365)
    adjustment_approval_threshold: int | None = Field(default=None, ge=0)


class TierOut(Schema):
    code: str
    name: str
    rank: int
    growth_threshold: int
    retention_growth: int
    points_multiplier: Decimal
    free_parking_hours: int
    birthday_gift: str
    discount_percent: Decimal
    perks: list[str]


class TierIn(Schema):
    name: str = Field(min_length=1, max_length=50)
    rank: int = Field(ge=1, le=50)
    growth_threshold: int = Field(ge=0)
    retention_growth: int = Field(default=0, ge=0)
    points_multiplier: Decimal = Field(default=Decimal(1), gt=0, max_digits=4, decimal_places=2)
    free_parking_hours: int = Field(default=0, ge=0, le=24)
    birthday_gift: str = Field(default="", max_length=200)
    discount_percent: Decimal = Field(
        default=Decimal(0), ge=0, lt=100, max_digits=5, decimal_places=2
    )
    perks: list[str] = Field(default_factory=list, max_length=20)


class RuleOut(Schema):
    id: uuid.UUID
    name: str
    kind: str
    status: str
    points_per_yuan: Decimal
    multiplier: Decimal
    per_sale_cap: int | None
    per_day_cap: int | None
    merchant_id: uuid.UUID | None
    business_format: str
    category: str
    weekdays: list[int]
    dates: list[str]
    effective_from: dt.date
    effective_to: dt.date | None
    is_base: bool
    supersedes_id: uuid.UUID | None
    published_at: dt.datetime | None


class RuleIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    kind: RuleKind = RuleKind.RATE
    points_per_yuan: Decimal = Field(default=Decimal(0), ge=0, max_digits=8, decimal_places=4)
    multiplier: Decimal = Field(default=Decimal(1), gt=0, max_digits=6, decimal_places=2)
    per_sale_cap: int | None = Field(default=None, ge=0)
    per_day_cap: int | None = Field(default=None, ge=0)
    merchant_id: uuid.UUID | None = None
    business_format: str = Field(default="", max_length=32)
    category: str = Field(default="", max_length=64)
    weekdays: list[int] = Field(default_factory=list, max_length=7)
    dates: list[dt.date] = Field(default_factory=list, max_length=366)
    effective_from: dt.date
    effective_to: dt.date | None = None


class RuleVersionIn(Schema):
    """Only what changes in the new version; the rest is copied from the published one."""

    effective_from: dt.date
    name: str | None = Field(default=None, min_length=1, max_length=100)
    points_per_yuan: Decimal | None = Field(default=None, ge=0, max_digits=8, decimal_places=4)
    multiplier: Decimal | None = Field(default=None, gt=0, max_digits=6, decimal_places=2)
    per_sale_cap: int | None = Field(default=None, ge=0)
    per_day_cap: int | None = Field(default=None, ge=0)


class BehaviourRuleOut(Schema):
    behaviour: str
    points: int
    units_per_award: int
    daily_cap: int | None
    is_active: bool


class BehaviourRuleIn(Schema):
    points: int = Field(ge=0, le=100_000)
    units_per_award: int = Field(default=1, ge=1)
    daily_cap: int | None = Field(default=None, ge=0)
    is_active: bool = True


class TierRefOut(Schema):
    code: str
    name: str
    growth_threshold: int


class PointsSummaryOut(Schema):
    balance: int
    spendable: int
    pending: int
    expiring_soon: int
    expiring_before: dt.datetime
    growth: int
    tier: TierOut | None
    next_tier: TierRefOut | None
    growth_to_next_tier: int | None


class EntryOut(Schema):
    id: uuid.UUID
    kind: str
    points: int
    reason: str
    source_type: str
    source_id: str
    merchant_id: uuid.UUID | None
    created_at: dt.datetime


class GrowthEntryOut(Schema):
    id: int
    delta: int
    reason: str
    source_type: str
    created_at: dt.datetime


class TierChangeOut(Schema):
    from_tier: str | None
    to_tier: str
    reason: str
    growth: int
    created_at: dt.datetime

    @staticmethod
    def resolve_from_tier(obj: object) -> str | None:
        tier = obj.from_tier  # type: ignore[attr-defined]  # a TierChange
        return tier.code if tier else None

    @staticmethod
    def resolve_to_tier(obj: object) -> str:
        return str(obj.to_tier.code)  # type: ignore[attr-defined]  # a TierChange


class AdjustmentIn(Schema):
    member_id: uuid.UUID
    points: int = Field(ge=-1_000_000, le=1_000_000)
    reason: str = Field(min_length=1, max_length=200)


class AdjustmentOut(Schema):
    id: uuid.UUID
    member_id: uuid.UUID
    points: int
    reason: str
    status: str
    requested_by: str
    decided_by: str
    decided_at: dt.datetime | None
    entry_id: uuid.UUID | None
    created_at: dt.datetime


class CheckInOut(Schema):
    awarded: int
    balance: int


class ActivityIn(Schema):
    kind: Behaviour = Field(description="steps or calories")
    quantity: int = Field(gt=0, le=200_000)
    day: dt.date


class ActivityOut(Schema):
    awarded: int
    balance: int
