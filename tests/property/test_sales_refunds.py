"""Hypothesis: random sales and partial refunds never reverse more than was earned, and refunds
sum exactly: money refunded adds up to the sale's refunded total (never above the total), and the
points and growth taken back by all refunds of a sale are exactly floor(earned × refunded / total)
(all of it once fully refunded), less only what the member had already spent."""

import contextlib
import uuid
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.loyalty.errors import InsufficientPointsError
from apps.loyalty.models import PointsAccount
from apps.loyalty.selectors import open_lots_balance, posted_balance
from apps.loyalty.services import ledger
from apps.members.services import create_member
from apps.merchants.services import create_merchant
from apps.sales.errors import InvalidAmountError, RefundExceedsSaleError
from apps.sales.models import Refund, Sale
from apps.sales.services import PaymentLine, parse_money, record_sale, refund_sale

CENT = Decimal("0.01")

sale_strategy = st.tuples(
    st.integers(1, 5_000_00),  # total in cents
    st.integers(0, 100),  # percent paid with a coupon (earns nothing)
)
step = st.one_of(
    st.tuples(st.just("refund"), st.integers(0, 3), st.integers(1, 5_000_00)),
    st.tuples(st.just("refund_rest"), st.integers(0, 3), st.just(0)),
    st.tuples(st.just("retry"), st.integers(0, 3), st.just(0)),
    st.tuples(st.just("spend"), st.just(0), st.integers(1, 3000)),
)


def _payments(total: Decimal, coupon_percent: int) -> list[PaymentLine]:
    coupon = (total * coupon_percent / 100).quantize(CENT, rounding="ROUND_DOWN")
    lines = [PaymentLine("cash", total - coupon)] if total - coupon > 0 else []
    return lines + ([PaymentLine("coupon", coupon)] if coupon > 0 else [])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sales=st.lists(sale_strategy, min_size=1, max_size=4), steps=st.lists(step, max_size=20))
def test_refunds_never_reverse_more_than_earned_and_sum_exactly(mall, sales, steps):
    merchant = create_merchant(name=f"p-{uuid.uuid4().hex[:6]}")
    member = create_member(display_name="prop")
    recorded = []
    for index, (cents, coupon_percent) in enumerate(sales):
        total = Decimal(cents) * CENT
        result = record_sale(
            merchant=merchant,
            external_id=f"S{index}",
            occurred_at=timezone.now(),
            total=total,
            payments=_payments(total, coupon_percent),
            member=member,
        )
        recorded.append(result.sale)
    done: list[tuple[str, str, Decimal]] = []
    for number, (kind, which, cents) in enumerate(steps):
        sale = Sale.objects.get(pk=recorded[which % len(recorded)].pk)
        if kind == "spend":
            with contextlib.suppress(InsufficientPointsError):
                ledger.redeem_points(member=member, points=cents, idempotency_key=uuid.uuid4().hex)
            continue
        if kind == "retry":
            if done:
                external_id, refund_id, amount = done[number % len(done)]
                before = Refund.objects.count()
                again = refund_sale(
                    merchant=merchant, external_id=external_id, refund_id=refund_id, amount=amount
                )
                assert (again.created, Refund.objects.count()) == (False, before)
            continue
        amount = sale.total - sale.refunded_total if kind == "refund_rest" else cents * CENT
        refund_id = f"R{number}"
        if amount <= 0:
            with pytest.raises(InvalidAmountError):
                refund_sale(
                    merchant=merchant,
                    external_id=sale.external_id,
                    refund_id=refund_id,
                    amount=amount,
                )
        elif amount > sale.total - sale.refunded_total:
            with pytest.raises(RefundExceedsSaleError):
                refund_sale(
                    merchant=merchant,
                    external_id=sale.external_id,
                    refund_id=refund_id,
                    amount=amount,
                )
        else:
            refund_sale(
                merchant=merchant, external_id=sale.external_id, refund_id=refund_id, amount=amount
            )
            done.append((sale.external_id, refund_id, amount))

    for sale in Sale.objects.filter(merchant=merchant):
        refunds = Refund.objects.filter(sale=sale).aggregate(
            amount=Sum("amount"),
            requested=Sum("points_requested"),
            points=Sum("points_reversed"),
            growth=Sum("growth_reversed"),
        )
        refunded = refunds["amount"] or Decimal(0)
        requested = refunds["requested"] or 0
        assert refunded == sale.refunded_total <= sale.total
        # The proportional rule, exactly, whatever the order and size of the partial refunds.
        assert requested == sale.points_earned * refunded // sale.total
        assert (refunds["points"] or 0) == sale.points_reversed <= requested <= sale.points_earned
        assert (refunds["growth"] or 0) == sale.growth_reversed <= sale.growth_earned
        assert sale.growth_reversed <= sale.growth_earned * refunded // sale.total
        if refunded == sale.total:
            assert requested == sale.points_earned
    account = PointsAccount.objects.get(member=member)
    assert account.balance >= 0
    assert account.balance == posted_balance(member=member) == open_lots_balance(member=member)


@given(cents=st.integers(0, 99_999_999_999_999))
def test_two_place_amounts_parse_exactly(cents):
    text = f"{cents // 100}.{cents % 100:02d}"
    assert parse_money(text, field="x") == Decimal(cents) * CENT


@given(value=st.decimals(allow_nan=False, allow_infinity=False, places=3))
def test_three_place_or_negative_amounts_are_refused(value):
    if 0 <= value <= Decimal("999999999999.99") and value == value.quantize(CENT):
        assert parse_money(str(value), field="x") == value
    else:
        with pytest.raises(InvalidAmountError):
            parse_money(str(value), field="x")


def _parsed(value: object, positive: bool) -> Decimal | str:
    try:
        return parse_money(value, field="x", positive=positive)
    except InvalidAmountError as exc:
        return exc.code


@given(
    text=st.from_regex(r"\A[0-9]{1,14}(\.[0-9]{1,3})?\n?\Z"),
    positive=st.booleans(),
)
def test_a_till_amount_parses_as_its_decimal_does(text, positive):
    # Tills' plain strings take a shortcut: the same amount, or the same refusal, as the Decimal.
    parsed = _parsed(text, positive)
    assert parsed == _parsed(Decimal(text), positive)
    if isinstance(parsed, Decimal):
        assert parsed.as_tuple().exponent == -2
