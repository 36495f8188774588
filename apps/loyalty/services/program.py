"""Program settings, tiers and rules: seeding a new mall, and the operators' editors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.loyalty.choices import Behaviour, RuleKind, RuleStatus
from apps.loyalty.errors import RuleInvalidError, RuleNotFoundError, TierInvalidError
from apps.loyalty.models import BehaviourRule, EarningRule, ProgramSettings, Tier
from apps.loyalty.selectors import settings_changed, settings_changing
from atrium.tenancy import current_schema

# code, name, rank, growth threshold, retention, points multiplier, free parking hours, birthday
# gift, perks
DEFAULT_TIERS: tuple[tuple[str, str, int, int, int, Decimal, int, str, list[str]], ...] = (
    ("regular", "普卡", 1, 0, 0, Decimal("1.00"), 0, "", []),
    ("silver", "银卡", 2, 2_000, 1_500, Decimal("1.20"), 1, "生日双倍积分", ["生日礼"]),
    ("gold", "金卡", 3, 10_000, 8_000, Decimal("1.50"), 2, "生日蛋糕券", ["生日礼", "贵宾休息室"]),
    ("diamond", "钻石卡", 4, 50_000, 40_000, Decimal("2.00"), 4, "生日礼盒",
     ["生日礼", "贵宾休息室", "优先服务", "专属停车位"]),
)  # fmt: skip
DEFAULT_BEHAVIOURS: tuple[tuple[str, int, int, int | None], ...] = (
    # behaviour, points, units per award, daily cap
    (Behaviour.SIGN_UP, 100, 1, None),
    (Behaviour.CHECK_IN, 5, 1, 5),
    (Behaviour.PROFILE_COMPLETED, 50, 1, None),
    (Behaviour.REFERRAL_REFERRER, 200, 1, 1000),
    (Behaviour.REFERRAL_REFEREE, 100, 1, None),
    (Behaviour.EVENT_CHECK_IN, 20, 1, 60),
    (Behaviour.STEPS, 1, 1000, 20),
    (Behaviour.CALORIES, 1, 100, 20),
)


@transaction.atomic
def seed_default_program(*, today: dt.date) -> None:
    """Give a new mall its default settings, tiers, 1 point per ¥1 and behaviour points
    (idempotent)."""
    ProgramSettings.objects.get_or_create(pk=1)
    for code, name, rank, threshold, retention, multiplier, parking, gift, perks in DEFAULT_TIERS:
        Tier.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "rank": rank,
                "growth_threshold": threshold,
                "retention_growth": retention,
                "points_multiplier": multiplier,
                "free_parking_hours": parking,
                "birthday_gift": gift,
                "perks": perks,
            },
        )
    if not EarningRule.objects.filter(is_base=True).exists():
        EarningRule.objects.create(
            name="基础积分",
            kind=RuleKind.RATE,
            status=RuleStatus.PUBLISHED,
            points_per_yuan=Decimal(1),
            effective_from=today,
            is_base=True,
            published_at=timezone.now(),
        )
    for behaviour, points, units, cap in DEFAULT_BEHAVIOURS:
        BehaviourRule.objects.get_or_create(
            behaviour=behaviour,
            defaults={"points": points, "units_per_award": units, "daily_cap": cap},
        )


SETTINGS_FIELDS = (
    "point_value", "points_validity_months", "pending_days", "growth_per_yuan",
    "tier_evaluation", "expiry_reminder_days", "adjustment_approval_threshold",
)  # fmt: skip


@transaction.atomic
def update_program_settings(**changes: Any) -> ProgramSettings:
    """Change program parameters (only the known fields)."""
    settings, _ = ProgramSettings.objects.select_for_update().get_or_create(pk=1)
    fields = [name for name in SETTINGS_FIELDS if name in changes]
    for name in fields:
        setattr(settings, name, changes[name])
    if fields:
        settings.save(update_fields=[*fields, "updated_at"])
        settings.refresh_from_db()  # read back as stored (decimal places)
        settings_changing()
        schema = current_schema()
        transaction.on_commit(lambda: settings_changed(schema))
    return settings


TIER_FIELDS = (
    "name", "growth_threshold", "retention_growth", "points_multiplier", "free_parking_hours",
    "birthday_gift", "discount_percent", "perks",
)  # fmt: skip


@transaction.atomic
def save_tier(*, code: str, rank: int, **fields: Any) -> Tier:
    """Create or change a tier; thresholds must rise with rank. Raises TierInvalidError."""
    tier = Tier.objects.filter(code=code).first() or Tier(code=code)
    tier.rank = rank
    for name in TIER_FIELDS:
        if name in fields:
            setattr(tier, name, fields[name])
    if tier.retention_growth > tier.growth_threshold:
        raise TierInvalidError("retention growth cannot exceed the upgrade threshold", code=code)
    try:
        with transaction.atomic():
            tier.save()
    except IntegrityError as exc:
        raise TierInvalidError("another tier has this rank", rank=rank) from exc
    ordered = list(Tier.objects.order_by("rank").values_list("code", "growth_threshold"))
    thresholds = [threshold for _, threshold in ordered]
    if thresholds != sorted(thresholds) or len(set(thresholds)) != len(thresholds):
        raise TierInvalidError("thresholds must rise with rank", tiers=[c for c, _ in ordered])
    return tier


RULE_FIELDS = (
    "name", "kind", "points_per_yuan", "multiplier", "per_sale_cap", "per_day_cap", "merchant_id",
    "business_format", "category", "weekdays", "dates", "effective_from", "effective_to",
)  # fmt: skip


def _validate_rule(rule: EarningRule) -> None:
    if rule.kind == RuleKind.RATE and rule.points_per_yuan < 0:
        raise RuleInvalidError("a rate cannot be negative")
    if rule.kind == RuleKind.MULTIPLIER and rule.multiplier <= 0:
        raise RuleInvalidError("a multiplier must be positive")
    if rule.kind == RuleKind.CAP and rule.per_sale_cap is None and rule.per_day_cap is None:
        raise RuleInvalidError("a cap rule needs a per-sale or a per-day cap")
    if rule.effective_to and rule.effective_to < rule.effective_from:
        raise RuleInvalidError("the rule ends before it starts")
    if any(not isinstance(day, int) or not 1 <= day <= 7 for day in rule.weekdays):
        raise RuleInvalidError("weekdays are ISO numbers 1 (Monday) to 7 (Sunday)")


def create_rule_draft(
    *, actor: str, supersedes: EarningRule | None = None, **fields: Any
) -> EarningRule:
    """A new rule (or a new version of a published one), not yet in force."""
    rule = EarningRule(status=RuleStatus.DRAFT, created_by=actor, supersedes=supersedes)
    if supersedes is not None:
        for name in RULE_FIELDS:
            setattr(rule, name, getattr(supersedes, name))
        rule.is_base = supersedes.is_base
    for name in RULE_FIELDS:
        if name in fields:
            setattr(rule, name, fields[name])
    _validate_rule(rule)
    rule.save()
    return rule


@transaction.atomic
def publish_rule(*, rule: EarningRule) -> EarningRule:
    """Put a draft in force from its effective date; the version it supersedes ends the day
    before. Published rules never change, so past sales stay explainable.
    Raises RuleInvalidError, RuleNotFoundError."""
    locked = EarningRule.objects.select_for_update().filter(pk=rule.pk).first()
    if locked is None:
        raise RuleNotFoundError("rule not found")
    rule = locked
    if rule.status != RuleStatus.DRAFT:
        raise RuleInvalidError("only a draft can be published", status=rule.status)
    _validate_rule(rule)
    if rule.supersedes_id is not None:
        previous = EarningRule.objects.select_for_update().get(pk=rule.supersedes_id)
        previous.effective_to = rule.effective_from - dt.timedelta(days=1)
        previous.save(update_fields=["effective_to"])
    rule.status = RuleStatus.PUBLISHED
    rule.published_at = timezone.now()
    rule.save(update_fields=["status", "published_at"])
    return rule


def rule_fields(rule: EarningRule) -> Mapping[str, Any]:
    """The editable fields of a rule (for previews of a proposed change)."""
    return {name: getattr(rule, name) for name in RULE_FIELDS}


def save_behaviour_rule(
    *, behaviour: str, points: int, units_per_award: int, daily_cap: int | None, is_active: bool
) -> BehaviourRule:
    """Set the points one behaviour earns."""
    rule, _ = BehaviourRule.objects.update_or_create(
        behaviour=behaviour,
        defaults={
            "points": points,
            "units_per_award": units_per_award,
            "daily_cap": daily_cap,
            "is_active": is_active,
        },
    )
    return rule
