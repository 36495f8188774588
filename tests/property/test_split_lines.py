"""Hypothesis: for random rule sets, contracts, amounts, payment mixes, items and sequences of
partial refunds, a sale's split lines sum exactly to its total, each refund's lines to minus its
amount, subsidy pairs to zero, and once fully refunded every line is negated exactly: no cent
appears or vanishes."""

import datetime as dt
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.loyalty.selectors import program_settings
from apps.loyalty.services.ledger import earn_points
from apps.members.services import create_member
from apps.merchants.services import create_contract, create_merchant
from apps.sales.models import Sale
from apps.sales.services import ItemLine, PaymentLine, record_sale, refund_sale
from apps.settlement.choices import LineKind
from apps.settlement.models import SplitLine
from apps.settlement.services.rules import create_rule, publish_rule
from apps.settlement.splitting import ContractView, Portion, RuleView, Snapshot, plan_split

CENT = Decimal("0.01")
DAY = dt.date(2026, 3, 2)
METHODS = ("cash", "card", "alipay", "wechat", "points", "coupon")
CATEGORIES = ("", "food", "shoes")
rates = st.integers(0, 10_000).map(lambda r: Decimal(r) / 10_000)
rule_strategy = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(("commission", "channel_fee", "platform_fee", "subsidy")),
        "rate": rates,
        "priority": st.integers(-2, 2),
        "category": st.sampled_from(CATEGORIES),
        "payment_method": st.sampled_from(("", *METHODS)),
        "campaign": st.sampled_from(("", "618")),
    }
)
contract_strategy = st.none() | st.fixed_dictionaries(
    {
        "kind": st.sampled_from(
            ("concession", "rent_plus_commission", "guaranteed_minimum", "fixed_rent")
        ),
        "commission_rate": rates,
        "category_rates": st.dictionaries(st.sampled_from(("food", "shoes")), rates, max_size=2),
    }
)


def _split(cents: int, weights: list[int]) -> list[Decimal]:
    """Cut `cents` into len(weights) positive-or-zero cent amounts."""
    total_weight = sum(weights)
    parts = [cents * w // total_weight for w in weights]
    parts[0] += cents - sum(parts)
    return [Decimal(p) * CENT for p in parts]


sale_strategy = st.tuples(
    st.integers(1, 1_000_000_00),
    st.lists(st.tuples(st.sampled_from(METHODS), st.integers(1, 100)), min_size=1, max_size=4),
    st.lists(st.tuples(st.sampled_from(CATEGORIES), st.integers(1, 100)), max_size=3),
    st.sampled_from(("", "618")),
)


def _view(index: int, spec: dict) -> RuleView:
    return RuleView(
        id=uuid.UUID(int=index + 1),
        rule_key=uuid.UUID(int=index + 1),
        version=1,
        name=f"r{index}",
        kind=spec["kind"],
        rate=spec["rate"],
        priority=spec["priority"],
        enabled=True,
        business_format="",
        merchant_id=None,
        category=spec["category"],
        payment_method=spec["payment_method"],
        campaign=spec["campaign"],
        effective_from=DAY,
        effective_to=None,
    )


@settings(max_examples=400, deadline=None)
@given(
    rules=st.lists(rule_strategy, max_size=8),
    contract=contract_strategy,
    sale=sale_strategy,
)
def test_a_planned_split_sums_exactly_to_the_sale(rules, contract, sale):
    cents, payments, items, campaign = sale
    merchant_id = uuid.uuid4()
    contracts = {}
    if contract is not None:
        contracts[merchant_id] = (
            ContractView(
                id=uuid.uuid4(),
                kind=contract["kind"],
                commission_rate=contract["commission_rate"],
                category_rates=contract["category_rates"],
                effective_from=DAY,
                effective_to=None,
                created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            ),
        )
    snap = Snapshot(rules=tuple(_view(i, r) for i, r in enumerate(rules)), contracts=contracts)
    total = Decimal(cents) * CENT
    pay = _split(cents, [w for _, w in payments])
    sold = _split(cents, [w for _, w in items]) if items else []
    lines = plan_split(
        snap=snap,
        merchant_id=merchant_id,
        business_format="retail",
        total=total,
        payments=[Portion(m, a) for (m, _), a in zip(payments, pay, strict=True)],
        items=[Portion(c, a) for (c, _), a in zip(items, sold, strict=True)],
        campaign=campaign,
        day=DAY,
    )
    allocating = [line for line in lines if line.kind != LineKind.SUBSIDY]
    assert sum(line.amount for line in allocating) == total
    assert all(line.amount > 0 for line in allocating)
    assert all(line.amount == line.amount.quantize(CENT) for line in lines)
    assert sum(line.amount for line in lines if line.kind == LineKind.SUBSIDY) == 0
    paid_by_points = all(m == "points" for (m, _), a in zip(payments, pay, strict=True) if a > 0)
    if paid_by_points:  # the channel never takes a fee on points
        assert [line for line in lines if line.kind == LineKind.CHANNEL_FEE] == []


refund_steps = st.lists(st.one_of(st.integers(1, 1_000_000_00), st.just(0)), max_size=6)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rules=st.lists(rule_strategy, max_size=5),
    contract=contract_strategy,
    sale=sale_strategy,
    refunds=refund_steps,
)
def test_sales_and_refunds_write_lines_that_never_lose_a_cent(mall, rules, contract, sale, refunds):
    merchant = create_merchant(name=f"p-{uuid.uuid4().hex[:6]}")
    if contract is not None:
        terms = dict(contract)
        if terms["kind"] == "fixed_rent":
            terms.update(commission_rate="0", category_rates={}, rent_amount="100.00")
        if terms["kind"] == "rent_plus_commission":
            terms["rent_amount"] = "100.00"
        if terms["kind"] == "guaranteed_minimum":
            terms["minimum_amount"] = "100.00"
        create_contract(merchant=merchant, effective_from=DAY, today=DAY, **terms)
    for spec in rules:
        if spec["kind"] == "channel_fee" and spec["payment_method"] == "points":
            continue  # refused by the service: points carry no channel fee
        draft = create_rule(
            values={
                "name": "p",
                "effective_from": DAY,
                "merchant": merchant,
                **{k: v for k, v in spec.items() if k != "campaign"},
            }
        )
        publish_rule(rule=draft, today=DAY)
    cents, payments, items, _ = sale
    total = Decimal(cents) * CENT
    pay = _split(cents, [w for _, w in payments])
    sold = _split(cents, [w for _, w in items]) if items else []
    paid = [(m, a) for (m, _), a in zip(payments, pay, strict=True) if a > 0]
    by_points = sum((a for m, a in paid if m == "points"), Decimal(0))
    member = None
    if by_points:  # points pay only for a member who holds them (cleared in apps/clearing)
        member = create_member()
        needed = int(by_points / program_settings().point_value)
        earn_points(
            member=member, points=needed, idempotency_key=f"split-p:{member.pk}", pending_days=0
        )
    row = record_sale(
        merchant=merchant,
        member=member,
        external_id="S1",
        occurred_at=dt.datetime(2026, 3, 2, 12, tzinfo=ZoneInfo("Asia/Shanghai")),
        total=total,
        payments=[PaymentLine(m, a) for m, a in paid],
        items=[ItemLine(amount=a, category=c) for (c, _), a in zip(items, sold, strict=True)],
    ).sale
    own = SplitLine.objects.filter(sale=row, refund=None)
    assert sum(line.amount for line in own if line.kind != LineKind.SUBSIDY) == total
    assert sum(line.amount for line in own if line.kind == LineKind.SUBSIDY) == 0
    for number, step in enumerate(refunds):
        left = Sale.objects.get(pk=row.pk).refundable
        if left == 0:
            break
        amount = left if step == 0 else min(left, Decimal(step) * CENT)
        refund = refund_sale(
            merchant=merchant, external_id="S1", refund_id=f"R{number}", amount=amount
        ).refund
        written = list(SplitLine.objects.filter(refund=refund))
        assert sum(line.amount for line in written) == -amount
        assert sum(line.amount for line in written if line.kind == LineKind.SUBSIDY) == 0
    every = SplitLine.objects.filter(sale=row)
    refunded = Sale.objects.get(pk=row.pk).refunded_total
    allocating = [line for line in every if line.kind != LineKind.SUBSIDY]
    assert sum(line.amount for line in allocating) == total - refunded
    per_key: dict[tuple, Decimal] = {}
    for line in every:
        key = (line.party, line.kind, line.rule_id, line.why)
        per_key[key] = per_key.get(key, Decimal(0)) + line.amount
    sale_sign = {(line.party, line.kind, line.rule_id, line.why): line.amount for line in own}
    for key, amount in per_key.items():
        # No refund ever takes more than what is left of a line, nor flips its sign.
        assert amount * sale_sign[key] >= 0
        if refunded == total:
            assert amount == 0
