"""The services directly: merged and closed members, refunds of anonymous sales, events."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.loyalty.models import PointsAccount
from apps.members.errors import MemberNotActiveError
from apps.members.services import close_member, create_member, merge_members
from apps.merchants.services import create_merchant
from apps.sales.errors import SaleInvalidError, TotalMismatchError
from apps.sales.models import Sale
from apps.sales.services import (
    ItemLine,
    MemberRef,
    PaymentLine,
    parse_money,
    record_sale,
    refund_sale,
)
from atrium.models import OutboxEvent


@pytest.fixture
def shop(mall):
    return create_merchant(name="Svc Shop", business_format="fnb")


def _sale(shop, external_id, total="100.00", **kw):
    return record_sale(
        merchant=shop,
        external_id=external_id,
        occurred_at=kw.pop("occurred_at", timezone.now()),
        total=total,
        payments=kw.pop("payments", [PaymentLine("cash", total)]),
        **kw,
    )


def test_a_refund_after_a_merge_takes_points_back_from_the_survivor(shop):
    source, target = create_member(display_name="old"), create_member(display_name="new")
    _sale(shop, "M-1", member=source)
    merge_members(source=source, target=target, actor="staff:x", reason="same person")
    refund = refund_sale(merchant=shop, external_id="M-1", refund_id="R-1", amount="50.00")
    assert (refund.refund.points_reversed, refund.refund.points_balance) == (50, 50)
    assert PointsAccount.objects.get(member=target).balance == 50


def test_a_closed_member_earns_nothing_and_nothing_is_written(shop):
    member = create_member(display_name="gone")
    close_member(member=member, actor="staff:x")
    member.refresh_from_db()
    before = Sale.objects.count()
    with pytest.raises(MemberNotActiveError):
        _sale(shop, "C-1", member=member)
    assert Sale.objects.count() == before


def test_refunds_of_an_anonymous_sale_move_money_only(shop):
    _sale(shop, "A-1", total="30.00")
    refund_sale(merchant=shop, external_id="A-1", refund_id="R-1", amount="10.00")
    done = refund_sale(merchant=shop, external_id="A-1", refund_id="R-2", amount="20.00")
    assert (done.sale.status, done.sale.refunded_total, done.refund.points_reversed) == (
        "refunded",
        Decimal("30.00"),
        0,
    )
    event = OutboxEvent.objects.filter(topic="sales.sale_refunded").order_by("created_at").last()
    assert {k: event.payload[k] for k in ("refund_id", "amount", "refunded_total")} == {
        "refund_id": "R-2",
        "amount": "20.00",
        "refunded_total": "30.00",
    }


def test_a_sale_without_a_time_happens_now_and_a_retry_need_not_repeat_it(shop):
    first = record_sale(
        merchant=shop, external_id="N-1", occurred_at=None, total="5.00",
        payments=[PaymentLine("cash", "5.00")],
    )  # fmt: skip
    again = record_sale(
        merchant=shop, external_id="N-1", occurred_at=None, total="5.00",
        payments=[PaymentLine("cash", "5.00")],
    )  # fmt: skip
    assert (again.created, again.sale.pk) == (False, first.sale.pk)
    assert abs(first.sale.occurred_at - timezone.now()) < dt.timedelta(minutes=1)


def test_the_business_format_and_item_categories_reach_the_rules(shop):
    member = create_member(display_name="items")
    result = _sale(
        shop,
        "I-1",
        total="10.00",
        items=[ItemLine("4.00", category="tea"), ItemLine("6.00", category="cake", quantity="0.5")],
        member=member,
    )
    sale = Sale.objects.get(pk=result.sale.pk)
    assert [(i.category, i.quantity) for i in sale.items.order_by("position")] == [
        ("tea", Decimal("1.000")),
        ("cake", Decimal("0.500")),
    ]
    assert result.points_earned == 10


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"items": [ItemLine("10.00", quantity="0")]}, SaleInvalidError),
        ({"items": [ItemLine("10.00", quantity="1.0001")]}, SaleInvalidError),
        ({"items": [ItemLine("10.00", quantity=1.5)]}, SaleInvalidError),
        (
            {"payments": [PaymentLine("cash", "5.00"), PaymentLine("card", "4.99")]},
            TotalMismatchError,
        ),
        ({"payments": [PaymentLine("gold", "10.00")]}, SaleInvalidError),
        ({"payments": []}, SaleInvalidError),
        ({"occurred_at": timezone.now() + dt.timedelta(hours=1)}, SaleInvalidError),
        ({"occurred_at": dt.datetime(1999, 1, 1, tzinfo=dt.UTC)}, SaleInvalidError),
    ],
)
def test_bad_sales_raise_before_anything_is_written(shop, kwargs, error):
    before = (Sale.objects.count(), OutboxEvent.objects.count())
    with pytest.raises(error):
        _sale(shop, "BAD-1", total="10.00", **kwargs)
    assert (Sale.objects.count(), OutboxEvent.objects.count()) == before


def test_member_ref_and_member_are_exclusive(shop):
    member = create_member(display_name="x")
    with pytest.raises(ValueError, match="not both"):
        _sale(shop, "X-1", member=member, member_ref=MemberRef(member_no=member.member_no))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.01", "0.01"), ("12", "12.00"), ("12.3", "12.30"), (Decimal("7.5"), "7.50"), (3, "3.00")],
)
def test_money_parses_to_two_places(value, expected):
    assert str(parse_money(value, field="x")) == expected


@pytest.mark.parametrize("value", [1.5, True, None, "", " 1", "1.", ".5", "+1", "1_000", "１２"])
def test_anything_else_is_not_money(value):
    from apps.sales.errors import InvalidAmountError

    with pytest.raises(InvalidAmountError):
        parse_money(value, field="x")
