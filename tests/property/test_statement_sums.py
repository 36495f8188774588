"""Hypothesis: for random contracts, sales, partial refunds, points clearing and closes made
while lines keep arriving (some late), every statement's totals equal the sum of its lines, a
closed statement never changes, and every cent of every money line lands in exactly one
statement: none appears, none vanishes."""

import datetime as dt
import itertools
from decimal import Decimal

from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.clearing.models import ClearingLine
from apps.merchants.services import create_merchant
from apps.settlement.models import SettlementCursor, SplitLine, Statement
from apps.settlement.services import statements as svc
from atrium.money import allocate
from tests.apps.settlement.statement_helpers import at, clearing, contract, refund, sale, split

START = dt.date(2026, 10, 26)
D = Decimal

cents = st.integers(1, 500_000).map(lambda c: D(c) / 100)
event = st.one_of(
    st.tuples(st.just("sale"), cents, st.integers(0, 60), st.integers(0, 3)),
    st.tuples(st.just("refund"), st.integers(1, 100), st.integers(0, 60), st.integers(0, 3)),
    st.tuples(
        st.just("points"), st.integers(-5000, 5000).filter(bool), st.integers(0, 60), st.just(0)
    ),
    st.tuples(st.just("close"), st.just(0), st.integers(0, 60), st.just(0)),
)
contract_kind = st.sampled_from(
    ["concession", "fixed_rent", "rent_plus_commission", "guaranteed_minimum"]
)


def _split_of(total: Decimal, variant: int) -> list[tuple[str, str, str]]:
    weights = [[80, 20], [75, 20, 5], [70, 25, 4, 1], [100]][variant]
    kinds = [("merchant", "merchant_share"), ("mall", "commission"), ("channel", "channel_fee"),
             ("platform", "platform_fee")]  # fmt: skip
    parts = allocate(total, weights)
    lines = [(p, k, str(a)) for (p, k), a in zip(kinds, parts, strict=False)]
    if variant == 1:  # a mall-funded coupon: the mall reimburses the merchant
        lines += [("merchant", "subsidy", "1.00"), ("mall", "subsidy", "-1.00")]
    return lines


def _check(shop):
    for statement in Statement.objects.filter(merchant=shop):
        lines = list(statement.lines.all())
        totals = svc.totals_of(lines)
        assert totals == svc.Totals(
            gross_sales=statement.gross_sales, refunds=statement.refunds,
            commission=statement.commission, channel_fees=statement.channel_fees,
            platform_fees=statement.platform_fees, subsidies=statement.subsidies,
            merchant_due=statement.merchant_due, points_clearing=statement.points_clearing,
            rent=statement.rent, minimum_topup=statement.minimum_topup,
            net_payable=statement.net_payable, line_count=statement.line_count,
        )  # fmt: skip
        assert statement.net_payable == (
            statement.merchant_due + statement.points_clearing - statement.rent
            - statement.minimum_topup
        )  # fmt: skip
        # A closed statement never changes: its period's money lines are exactly its lines.
        again = svc.money_rows(
            merchant_id=shop.pk, start=statement.period_start, end=statement.period_end
        )
        assert [(r.section, r.party, r.kind, r.amount, r.count) for r in again] == [
            (x.section, x.party, x.kind, x.amount, x.count)
            for x in lines if x.section in ("sale", "refund", "points")
        ]  # fmt: skip
    cursor = SettlementCursor.objects.filter(merchant=shop).first()
    if cursor is None:
        return
    closed = {"settle_on__lte": cursor.closed_through, "merchant": shop}
    money_in = (SplitLine.objects.filter(**closed).aggregate(s=Sum("amount"))["s"] or D(0)) + (
        ClearingLine.objects.filter(**closed).aggregate(s=Sum("amount"))["s"] or D(0)
    )
    statements = Statement.objects.filter(merchant=shop)
    money_out = sum(
        (x.amount for s in statements for x in s.lines.all()
         if x.section in ("sale", "refund", "points")), D(0),
    )  # fmt: skip
    assert money_out == money_in
    count = (
        SplitLine.objects.filter(**closed).count() + ClearingLine.objects.filter(**closed).count()
    )
    assert sum(s.line_count for s in statements) == count
    # Periods tile the closed days with no gap and no overlap.
    periods = sorted((s.period_start, s.period_end) for s in statements)
    for (_, end), (start, _) in itertools.pairwise(periods):
        assert start == end + dt.timedelta(days=1)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(
    kind=contract_kind,
    cycle=st.sampled_from(["daily", "weekly", "monthly"]),
    minimum=st.integers(0, 300_000).map(lambda c: D(c) / 100),
    events=st.lists(event, min_size=1, max_size=25),
)
def test_statements_are_the_sum_of_their_lines_and_lose_no_cent(mall, kind, cycle, minimum, events):
    shop = create_merchant(name="property")
    contract(shop, kind=kind, cycle=cycle, rent_amount=D("3000.00"), minimum_amount=minimum,
             effective_from=START)  # fmt: skip
    sales = []
    for name, value, offset, variant in events:
        day = START + dt.timedelta(days=offset)
        if name == "sale":
            record = sale(shop, str(value), at(day))
            split(record, _split_of(value, variant))
            sales.append((record, value, variant))
        elif name == "refund" and sales:
            record, total, variant = sales[offset % len(sales)]
            amount = (total * value / 100).quantize(D("0.01"))
            if amount > 0:
                shares = [D(a) for _, _, a in _split_of(total, variant) if _ != "subsidy"]
                parts = allocate(-amount, [abs(s) for s in shares[: len(shares)]])
                lines = [(p, k, str(a)) for (p, k, _), a in
                         zip(_split_of(total, variant), parts, strict=False)]  # fmt: skip
                refund(record, str(amount), lines, at(day))
        elif name == "points":
            clearing(
                shop, "acceptor" if value > 0 else "funder", value, str(D(value) / 100), at(day)
            )
        elif name == "close":
            svc.close_due_periods(today=day, actor="p", merchants=[shop])
            _check(shop)
    svc.close_due_periods(today=dt.date(2027, 2, 1), actor="p", merchants=[shop])
    _check(shop)
    cursor = SettlementCursor.objects.get(merchant=shop)
    assert SplitLine.objects.filter(merchant=shop, settle_on__gt=cursor.closed_through).count() == 0
