"""The earning engine: what a sale earns and why, caps, multipliers, behaviour and activity."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.loyalty.choices import RuleKind, RuleStatus
from apps.loyalty.errors import InvalidPointsError
from apps.loyalty.models import EarningRule, PointsAccount, Tier
from apps.loyalty.selectors import points_summary
from apps.loyalty.services import earning
from apps.loyalty.services.earning import SaleFacts, SaleItem, SalePayment, quote_sale

SHOP = uuid.UUID("11111111-1111-1111-1111-111111111111")
RID = {n: uuid.UUID(int=n) for n in range(1, 10)}
# 2026-11-11 is a Wednesday (ISO weekday 3) in Asia/Shanghai.
WED = dt.datetime(2026, 11, 11, 12, 0, tzinfo=dt.UTC)


def _rule(**fields):
    defaults = {"name": "r", "status": RuleStatus.PUBLISHED, "effective_from": dt.date(2026, 1, 1)}
    return EarningRule(**{**defaults, **fields})


BASE = _rule(name="base", kind=RuleKind.RATE, points_per_yuan=Decimal(1), is_base=True)


def _facts(total="100.00", payments=None, items=None, merchant=SHOP, fmt="retail", at=WED):
    return SaleFacts(
        total=Decimal(total),
        occurred_at=at,
        merchant_id=merchant,
        business_format=fmt,
        payments=tuple(SalePayment(m, Decimal(a)) for m, a in (payments or [("cash", total)])),
        items=tuple(SaleItem(Decimal(a), c) for c, a in (items or [])),
    )


def _quote(facts, rules, tier=None, earned_today=0):
    return quote_sale(
        facts=facts, tier=tier, rules=rules, earned_today=earned_today, growth_per_yuan=Decimal(1)
    )


def test_one_point_per_yuan_rounds_down_once():
    quote = _quote(_facts("99.99"), [BASE])
    assert (quote.points, quote.growth, quote.eligible_amount) == (99, 99, Decimal("99.99"))


def test_points_coupons_and_stored_value_do_not_earn():
    facts = _facts("100.00", payments=[("cash", "60.00"), ("coupon", "30.00"), ("points", "10.00")])
    quote = _quote(facts, [BASE])
    assert (quote.points, quote.eligible_amount) == (60, Decimal("60.00"))
    assert quote.explanations[0].rule == "payment"


def test_the_most_specific_rate_wins_per_item():
    rules = [
        BASE,
        _rule(
            id=RID[2],
            name="F&B double",
            kind=RuleKind.RATE,
            points_per_yuan=Decimal(2),
            business_format="fnb",
        ),
        _rule(
            id=RID[3],
            name="wine 0.5",
            kind=RuleKind.RATE,
            points_per_yuan=Decimal("0.5"),
            category="wine",
        ),
        _rule(
            id=RID[4],
            name="this shop 3",
            kind=RuleKind.RATE,
            points_per_yuan=Decimal(3),
            merchant_id=SHOP,
        ),
    ]
    facts = _facts("100.00", fmt="fnb", items=[("food", "60.00"), ("wine", "40.00")])
    # this shop's rate (4) beats category (2) + format (1) = 3 for both items.
    assert _quote(facts, rules).points == 300
    other_shop = _facts(
        "100.00", fmt="fnb", merchant=uuid.uuid4(), items=[("food", "60.00"), ("wine", "40.00")]
    )
    # food: F&B 2/¥ -> 120; wine: category 0.5/¥ (2) beats format (1) -> 20.
    assert _quote(other_shop, rules).points == 140


def test_excluded_categories_earn_nothing():
    rules = [BASE, _rule(id=RID[5], name="no tobacco", kind=RuleKind.EXCLUSION, category="tobacco")]
    facts = _facts("100.00", items=[("tobacco", "30.00"), ("snacks", "70.00")])
    quote = _quote(facts, rules)
    assert quote.points == 70
    assert [e.effect for e in quote.explanations if e.rule_id == RID[5]] == ["tobacco 不积分"]


def test_tier_and_day_multipliers_multiply_and_days_do_not_stack():
    gold = Tier(code="gold", name="金卡", rank=3, points_multiplier=Decimal("1.5"))
    rules = [
        BASE,
        _rule(
            id=RID[6],
            name="member day",
            kind=RuleKind.MULTIPLIER,
            multiplier=Decimal(2),
            weekdays=[3],
        ),
        _rule(
            id=RID[7],
            name="double 11",
            kind=RuleKind.MULTIPLIER,
            multiplier=Decimal(3),
            dates=["2026-11-11"],
        ),
        _rule(
            id=RID[8],
            name="thursday",
            kind=RuleKind.MULTIPLIER,
            multiplier=Decimal(5),
            weekdays=[4],
        ),
    ]
    quote = _quote(_facts("10.00"), rules, tier=gold)
    assert (quote.points, quote.multiplier) == (45, Decimal("4.5"))


def test_per_sale_and_per_day_caps():
    rules = [
        BASE,
        _rule(id=RID[9], name="caps", kind=RuleKind.CAP, per_sale_cap=500, per_day_cap=800),
    ]
    assert _quote(_facts("1000.00"), rules).points == 500
    assert _quote(_facts("1000.00"), rules, earned_today=700).points == 100
    assert _quote(_facts("1000.00"), rules, earned_today=900).points == 0


def test_rules_outside_their_dates_do_not_apply(in_mall_a):
    EarningRule.objects.create(
        name="old",
        kind=RuleKind.RATE,
        status=RuleStatus.PUBLISHED,
        points_per_yuan=Decimal(5),
        effective_from=dt.date(2025, 1, 1),
        effective_to=dt.date(2025, 12, 31),
        category="gift",
    )
    EarningRule.objects.create(
        name="draft",
        kind=RuleKind.RATE,
        status=RuleStatus.DRAFT,
        points_per_yuan=Decimal(9),
        effective_from=dt.date(2026, 1, 1),
        category="gift",
    )
    facts = _facts("10.00", items=[("gift", "10.00")], at=timezone.now())
    assert quote_sale(facts=facts, tier=None).points == 10


def test_award_sale_credits_a_merchant_lot_and_growth_and_is_idempotent(member):
    facts = _facts("88.80", at=timezone.now())
    award = earning.award_sale(
        member=member, sale_id="sale-1", facts=facts, idempotency_key="sale-1"
    )
    again = earning.award_sale(
        member=member, sale_id="sale-1", facts=facts, idempotency_key="sale-1"
    )
    assert (award.points, award.growth, award.balance, award.tier) == (88, 88, 88, "regular")
    assert again.entry.pk == award.entry.pk
    account = PointsAccount.objects.get(member=member)
    assert (account.balance, account.growth) == (88, 88)
    assert award.entry.lots.get().issuer_merchant_id == SHOP


def test_proportional_share_never_drifts_over_partial_refunds():
    shares = []
    refunded = Decimal(0)
    for part in (Decimal("33.33"), Decimal("33.33"), Decimal("33.34")):
        shares.append(earning.proportional_share(100, refunded, part, Decimal("100.00")))
        refunded += part
    assert (shares, sum(shares)) == ([33, 33, 34], 100)


def test_refund_reverses_points_and_growth(member):
    facts = _facts("200.00", at=timezone.now())
    earning.award_sale(member=member, sale_id="s2", facts=facts, idempotency_key="s2")
    result = earning.reverse_sale_award(
        member=member, sale_id="s2", refund_id="r1", points=50, growth=50
    )
    assert (result.points_reversed, result.growth_reversed, result.balance) == (50, 50, 150)
    assert PointsAccount.objects.get(member=member).growth == 150


def test_check_in_once_a_day_within_the_cap(member):
    first = earning.award_behaviour(member=member, behaviour="check_in", idempotency_key="ci-1")
    repeat = earning.award_behaviour(member=member, behaviour="check_in", idempotency_key="ci-1")
    capped = earning.award_behaviour(member=member, behaviour="check_in", idempotency_key="ci-2")
    assert (first.awarded, repeat.awarded, repeat.entry.pk, capped) == (
        5,
        0,
        first.entry.pk,
        earning.BehaviourAward(awarded=0, entry=None),
    )


def test_activity_uploads_are_cumulative_and_capped(member):
    today = timezone.localdate()
    first = earning.award_activity(member=member, behaviour="steps", day_total=6500, day=today)
    same = earning.award_activity(member=member, behaviour="steps", day_total=6500, day=today)
    more = earning.award_activity(member=member, behaviour="steps", day_total=30000, day=today)
    assert (first.points, same, more.points) == (6, None, 14)
    assert points_summary(member=member).balance == 20


def test_activity_for_an_old_day_or_another_behaviour_is_refused(member):
    with pytest.raises(InvalidPointsError):
        earning.award_activity(
            member=member, behaviour="steps", day_total=100, day=dt.date(2020, 1, 1)
        )
    with pytest.raises(InvalidPointsError):
        earning.award_activity(
            member=member, behaviour="check_in", day_total=1, day=timezone.localdate()
        )


def test_backtest_compares_points_and_cost(in_mall_a):
    double = _rule(name="double", kind=RuleKind.RATE, points_per_yuan=Decimal(2), is_base=True)
    sales = [(_facts("100.00"), None), (_facts("50.50"), None)]
    result = earning.backtest(sales=sales, current=[BASE], proposed=[double])
    assert result == {
        "sales": 2,
        "points_before": 150,
        "points_after": 301,
        "points_delta": 151,
        "cost_before": Decimal("1.50"),
        "cost_after": Decimal("3.01"),
        "cost_delta": Decimal("1.51"),
    }


def test_check_in_is_once_per_local_day_on_every_surface(member):
    # Now, and 00:30 of the next day in the mall's time zone. (The ledger stamps entries with
    # the real time, which the daily cap counts by: a fixed date made this test fail whenever
    # the real local day was not the fixed one.)
    now = timezone.localtime()
    today = now.date()
    after_midnight = (now + dt.timedelta(days=1)).replace(hour=0, minute=30)
    first = earning.check_in(member=member, now=now)
    again = earning.check_in(member=member, now=now + dt.timedelta(seconds=1))
    next_day = earning.check_in(member=member, now=after_midnight)
    assert (first.awarded, again.awarded, next_day.awarded) == (5, 0, 5)
    assert earning.checked_in(member=member, day=today)
    assert earning.checked_in(member=member, day=today + dt.timedelta(days=1))
    assert not earning.checked_in(member=member, day=today + dt.timedelta(days=2))


def test_explanations_follow_the_language():
    from django.utils import translation

    rules = [BASE, _rule(id=RID[9], name="caps", kind=RuleKind.CAP, per_sale_cap=50)]
    facts = _facts("100.00", payments=[("cash", "80.00"), ("coupon", "20.00")])
    with translation.override("en"):
        english = [e.effect for e in _quote(facts, rules).explanations]
    chinese = [e.effect for e in _quote(facts, rules).explanations]
    assert english == [
        "¥20.00 paid with points, coupons or stored value earns nothing",
        "¥80.00 × 1/¥",
        "capped at 50 per sale",
    ]
    assert chinese == ["积分、券或储值支付的 ¥20.00 不积分", "¥80.00 × 1/¥", "每笔上限 50 分"]
