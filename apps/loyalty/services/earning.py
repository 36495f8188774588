"""The earning engine: what a sale earns and why, and behaviour points.

Rules (one documented rounding rule):
1. Only cash-like payment earns: the amount paid with points, coupons or stored value is taken
   out, spread over the items in proportion to their amounts.
2. Each item earns `eligible amount × rate`, the rate being the most specific published rate rule
   in force that matches (merchant 4 > category 2 > business format 1, summed; then the newest);
   an exclusion rule matching the item makes it earn nothing.
3. The sum is multiplied by the member's tier multiplier and by the largest day multiplier in
   force (member days, double-points days — they do not stack), then rounded DOWN once.
4. Per-sale caps, then per-day caps (what the member already earned that local day) apply.
Growth is `eligible amount × growth per yuan`, rounded down.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.loyalty import locks
from apps.loyalty.choices import NON_EARNING_METHODS, Behaviour, EntryKind, LotSource, RuleKind
from apps.loyalty.errors import InvalidPointsError
from apps.loyalty.models import (
    BehaviourRule,
    EarningRule,
    GrowthEntry,
    JournalEntry,
    PointsAccount,
    Tier,
)
from apps.loyalty.selectors import program_settings, rules_in_force
from apps.loyalty.services import growth as growth_service
from apps.loyalty.services import ledger
from apps.members.models import Member

ZERO = Decimal(0)


@dataclass(frozen=True)
class SaleItem:
    amount: Decimal
    category: str = ""


@dataclass(frozen=True)
class SalePayment:
    method: str
    amount: Decimal


@dataclass(frozen=True)
class SaleFacts:
    """What the engine needs to know about a sale (the sales app builds it)."""

    total: Decimal
    occurred_at: dt.datetime
    merchant_id: UUID | None = None
    business_format: str = ""
    payments: tuple[SalePayment, ...] = ()
    items: tuple[SaleItem, ...] = ()


@dataclass(frozen=True)
class Explanation:
    rule_id: UUID | None
    rule: str
    effect: str


@dataclass(frozen=True)
class EarnQuote:
    points: int
    growth: int
    eligible_amount: Decimal
    base_points: Decimal
    multiplier: Decimal
    explanations: tuple[Explanation, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class SaleAward:
    points: int
    growth: int
    balance: int
    tier: str | None
    entry: JournalEntry | None
    quote: EarnQuote


def local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(ZoneInfo(settings.TIME_ZONE)).date()


def _applies_on(rule: EarningRule, day: dt.date) -> bool:
    if rule.weekdays and day.isoweekday() not in rule.weekdays:
        return False
    return not rule.dates or day.isoformat() in rule.dates


def _matches(rule: EarningRule, facts: SaleFacts, category: str | None) -> bool:
    """Whether a rule's scope covers a sale (category None: a sale-level rule, not an item)."""
    if rule.merchant_id is not None and rule.merchant_id != facts.merchant_id:
        return False
    if rule.business_format and rule.business_format != facts.business_format:
        return False
    return not rule.category or rule.category == category


def _specificity(rule: EarningRule) -> tuple[int, dt.date, float]:
    score = (4 if rule.merchant_id else 0) + (2 if rule.category else 0)
    score += 1 if rule.business_format else 0
    published = rule.published_at.timestamp() if rule.published_at else 0.0
    return score, rule.effective_from, published


def eligible_amount(facts: SaleFacts) -> Decimal:
    """The part of the sale paid with cash-like methods."""
    excluded = sum((p.amount for p in facts.payments if p.method in NON_EARNING_METHODS), ZERO)
    return max(facts.total - excluded, ZERO)


def quote_sale(
    *,
    facts: SaleFacts,
    tier: Tier | None,
    earned_today: int = 0,
    rules: Sequence[EarningRule] | None = None,
    growth_per_yuan: Decimal | None = None,
    explain: bool = True,
) -> EarnQuote:
    """What a sale would earn, with the rules that applied. Pure: reads rules only if not given.

    `explain=False` (the sale writer) leaves out the explanations: the same points and growth,
    without building a sentence per rule for nobody to read."""
    day = local_day(facts.occurred_at)
    in_force = [
        r for r in (rules if rules is not None else rules_in_force(day)) if _applies_on(r, day)
    ]
    eligible = eligible_amount(facts)
    explanations: list[Explanation] = []
    fraction = eligible / facts.total if facts.total > 0 else ZERO
    items = facts.items or (SaleItem(amount=facts.total),)
    if eligible < facts.total and explain:
        explanations.append(
            Explanation(
                None,
                "payment",
                _("积分、券或储值支付的 ¥%(amount)s 不积分") % {"amount": facts.total - eligible},
            )
        )
    raw = ZERO
    for item in items:
        item_eligible = item.amount * fraction
        category = item.category or None
        exclusion = next(
            (r for r in in_force if r.kind == RuleKind.EXCLUSION and _matches(r, facts, category)),
            None,
        )
        if exclusion is not None:
            if explain:
                explanations.append(
                    Explanation(
                        exclusion.pk,
                        exclusion.name,
                        _("%(category)s 不积分") % {"category": item.category or _("商品")},
                    )
                )
            continue
        rates = [r for r in in_force if r.kind == RuleKind.RATE and _matches(r, facts, category)]
        if not rates:
            continue
        rate = max(rates, key=_specificity)
        raw += item_eligible * rate.points_per_yuan
        if explain:
            explanations.append(
                Explanation(
                    rate.pk,
                    rate.name,
                    f"¥{item_eligible.quantize(Decimal('0.01'))} × {rate.points_per_yuan}/¥",
                )
            )
    multiplier = Decimal(1)
    if tier is not None and tier.points_multiplier != 1:
        multiplier *= tier.points_multiplier
        if explain:
            explanations.append(
                Explanation(None, tier.name, _("等级 × %(m)s") % {"m": tier.points_multiplier})
            )
    day_rules = [r for r in in_force if r.kind == RuleKind.MULTIPLIER and _matches(r, facts, None)]
    if day_rules:
        best = max(day_rules, key=lambda r: r.multiplier)
        multiplier *= best.multiplier
        if explain:
            explanations.append(
                Explanation(best.pk, best.name, _("活动日 × %(m)s") % {"m": best.multiplier})
            )
    points = int((raw * multiplier).to_integral_value(rounding=ROUND_FLOOR))
    for cap in (r for r in in_force if r.kind == RuleKind.CAP and _matches(r, facts, None)):
        if cap.per_sale_cap is not None and points > cap.per_sale_cap:
            points = cap.per_sale_cap
            if explain:
                explanations.append(
                    Explanation(
                        cap.pk, cap.name, _("每笔上限 %(cap)s 分") % {"cap": cap.per_sale_cap}
                    )
                )
        if cap.per_day_cap is not None and points > max(cap.per_day_cap - earned_today, 0):
            points = max(cap.per_day_cap - earned_today, 0)
            if explain:
                explanations.append(
                    Explanation(
                        cap.pk, cap.name, _("每日上限 %(cap)s 分") % {"cap": cap.per_day_cap}
                    )
                )
    per_yuan = program_settings().growth_per_yuan if growth_per_yuan is None else growth_per_yuan
    growth = int((eligible * per_yuan).to_integral_value(rounding=ROUND_FLOOR))
    return EarnQuote(
        points=points,
        growth=growth,
        eligible_amount=eligible,
        base_points=raw,
        multiplier=multiplier,
        explanations=tuple(explanations),
    )


def earned_on_day(*, member: Member, day: dt.date, source_type: str) -> int:
    """Points a member earned from one kind of source on a local day (for daily caps)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    total = JournalEntry.objects.filter(
        member=member,
        kind=EntryKind.EARN,
        source_type=source_type,
        created_at__gte=start,
        created_at__lt=start + dt.timedelta(days=1),
    ).aggregate(total=Sum("points"))["total"]
    return int(total or 0)


@transaction.atomic
def award_sale(
    *,
    member: Member,
    sale_id: str,
    facts: SaleFacts,
    idempotency_key: str,
    now: dt.datetime | None = None,
) -> SaleAward:
    """Credit one sale's points (as a lot issued by its merchant) and growth, at once, through
    the set-based writer (`sale_awards.award_sales`, which `record_sale` uses for every sale).

    Re-running with the same key changes nothing and returns the first award.
    """
    from apps.loyalty.services.sale_awards import SaleToAward, award_sales
    from atrium.events import publish_many

    account = locks.points_account_for_update(member=member)
    entry = JournalEntry.objects.filter(idempotency_key=f"{idempotency_key}:points").first()
    grown = GrowthEntry.objects.filter(idempotency_key=f"{idempotency_key}:growth").first()
    if entry is None and grown is None:
        (awarded,) = award_sales([SaleToAward(member.pk, sale_id, facts, idempotency_key)], now=now)
        publish_many(awarded.events)
        entry = JournalEntry.objects.get(pk=awarded.entry_id) if awarded.entry_id else None
        points, growth, quote = awarded.points, awarded.growth, awarded.quote
    else:
        quote = quote_sale(facts=facts, tier=account.tier)
        points, growth = (entry.points if entry else 0), (grown.delta if grown else 0)
    account = PointsAccount.objects.select_related("tier").get(member=member)
    return SaleAward(
        points=points,
        growth=growth,
        balance=account.balance,
        tier=account.tier.code if account.tier else None,
        entry=entry,
        quote=quote,
    )


@dataclass(frozen=True)
class RefundReversal:
    points_requested: int
    points_reversed: int
    growth_reversed: int
    balance: int


@transaction.atomic
def reverse_sale_award(
    *, member: Member, sale_id: str, refund_id: str, points: int, growth: int
) -> RefundReversal:
    """Take back a refunded share of a sale's points and growth (never below what is left)."""
    reversed_points = 0
    if points > 0:
        entry = ledger.reverse_points(
            member=member, points=points, idempotency_key=f"refund:{sale_id}:{refund_id}:points",
            source_type="sale", source_id=sale_id, reason=f"refund {refund_id}",
        )  # fmt: skip
        reversed_points = -entry.points
    reversed_growth = 0
    if growth > 0:
        done = growth_service.add_growth(
            member=member, delta=-growth, reason="refund", source_type="refund",
            source_id=f"{sale_id}:{refund_id}", idempotency_key=f"refund:{sale_id}:{refund_id}:growth",
        )  # fmt: skip
        reversed_growth = -done.delta if done else 0
    account = locks.points_account_for_update(member=member)
    return RefundReversal(points, reversed_points, reversed_growth, account.balance)


def proportional_share(
    total: int, refunded_so_far: Decimal, refunding: Decimal, amount: Decimal
) -> int:
    """How much of `total` a refund takes back so that all refunds together take back exactly
    floor(total × refunded / amount): no drift over several partial refunds."""
    if amount <= 0:
        return 0
    before = math.floor(total * refunded_so_far / amount)
    after = math.floor(total * min(refunded_so_far + refunding, amount) / amount)
    return after - before


@dataclass(frozen=True)
class BehaviourAward:
    awarded: int  # 0 when the rule is off, the cap is reached, or the key was already used
    entry: JournalEntry | None


@transaction.atomic
def award_behaviour(
    *,
    member: Member,
    behaviour: str,
    idempotency_key: str,
    quantity: int = 1,
    now: dt.datetime | None = None,
) -> BehaviourAward:
    """Points for a behaviour (sign-up, check-in, referral, event...), within its daily cap.

    A repeated key (a second check-in the same day) awards nothing more. Raises InvalidPointsError.
    """
    if quantity <= 0:
        raise InvalidPointsError("quantity must be positive", quantity=quantity)
    Behaviour(behaviour)
    rule = BehaviourRule.objects.filter(behaviour=behaviour, is_active=True).first()
    if rule is None:
        return BehaviourAward(awarded=0, entry=None)
    locks.points_account_for_update(member=member)
    if (done := JournalEntry.objects.filter(idempotency_key=idempotency_key).first()) is not None:
        return BehaviourAward(awarded=0, entry=done)
    now = now or timezone.now()
    points = rule.points * (quantity // rule.units_per_award)
    source_type = f"behaviour:{behaviour}"
    if rule.daily_cap is not None:
        earned = earned_on_day(member=member, day=local_day(now), source_type=source_type)
        points = min(points, max(rule.daily_cap - earned, 0))
    if points <= 0:
        return BehaviourAward(awarded=0, entry=None)
    entry = ledger.earn_points(
        member=member, points=points, idempotency_key=idempotency_key, source=LotSource.BEHAVIOUR,
        source_type=source_type, source_id=str(quantity), reason=behaviour, pending_days=0, now=now,
    )  # fmt: skip
    return BehaviourAward(awarded=points, entry=entry)


def check_in_key(*, member: Member, day: dt.date) -> str:
    """The idempotency key of a member's check-in on a local day: once a day, on any surface."""
    return f"check-in:{member.pk}:{day.isoformat()}"


def check_in(*, member: Member, now: dt.datetime | None = None) -> BehaviourAward:
    """The daily check-in: points the first time a local day, nothing more after."""
    day = local_day(now or timezone.now())
    return award_behaviour(
        member=member,
        behaviour=Behaviour.CHECK_IN,
        idempotency_key=check_in_key(member=member, day=day),
        now=now,
    )


def checked_in(*, member: Member, day: dt.date) -> bool:
    """Whether the member already checked in on a local day."""
    return JournalEntry.objects.filter(
        idempotency_key=check_in_key(member=member, day=day)
    ).exists()


ACTIVITY_BEHAVIOURS = frozenset({Behaviour.STEPS, Behaviour.CALORIES})
ACTIVITY_DAYS_BACK = 7


@transaction.atomic
def award_activity(
    *, member: Member, behaviour: str, day_total: int, day: dt.date, now: dt.datetime | None = None
) -> JournalEntry | None:
    """Points for a day's activity total (steps, calories) uploaded by the member app.

    Uploads are cumulative: each one awards what the new total earns beyond what the day already
    earned, within the daily cap, so uploading the same total twice awards nothing more.
    Raises InvalidPointsError for other behaviours, non-positive totals or days too far back.
    """
    now = now or timezone.now()
    if behaviour not in ACTIVITY_BEHAVIOURS or day_total <= 0:
        raise InvalidPointsError("activity must be steps or calories with a positive total")
    if not 0 <= (local_day(now) - day).days <= ACTIVITY_DAYS_BACK:
        raise InvalidPointsError(
            "activity can be uploaded for the last 7 days", day=day.isoformat()
        )
    rule = BehaviourRule.objects.filter(behaviour=behaviour, is_active=True).first()
    if rule is None:
        return None
    locks.points_account_for_update(member=member)
    source_type = f"activity:{behaviour}:{day.isoformat()}"
    earned = int(
        JournalEntry.objects.filter(
            member=member, kind=EntryKind.EARN, source_type=source_type
        ).aggregate(total=Sum("points"))["total"]
        or 0
    )
    due = rule.points * (day_total // rule.units_per_award)
    if rule.daily_cap is not None:
        due = min(due, rule.daily_cap)
    if due <= earned:
        return None
    return ledger.earn_points(
        member=member, points=due - earned,
        idempotency_key=f"activity:{member.pk}:{behaviour}:{day.isoformat()}:{due}",
        source=LotSource.BEHAVIOUR, source_type=source_type, source_id=str(day_total),
        reason=behaviour, pending_days=0, now=now,
    )  # fmt: skip


def backtest(
    *,
    sales: Iterable[tuple[SaleFacts, Tier | None]],
    current: Sequence[EarningRule],
    proposed: Sequence[EarningRule],
) -> dict[str, Decimal | int]:
    """What a rule change would have issued over past sales, and its cost at the point value."""
    before = after = count = 0
    for facts, tier in sales:
        before += quote_sale(facts=facts, tier=tier, rules=current, growth_per_yuan=ZERO).points
        after += quote_sale(facts=facts, tier=tier, rules=proposed, growth_per_yuan=ZERO).points
        count += 1
    value = program_settings().point_value
    return {
        "sales": count,
        "points_before": before,
        "points_after": after,
        "points_delta": after - before,
        "cost_before": (value * before).quantize(Decimal("0.01")),
        "cost_after": (value * after).quantize(Decimal("0.01")),
        "cost_delta": (value * (after - before)).quantize(Decimal("0.01")),
    }
