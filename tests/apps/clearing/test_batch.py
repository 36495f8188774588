"""Points payments through the set-based writer's batch form (`record_sales`): each sale's
redemption is cleared on its own, a sale clearing refuses is answered with its error and the
others are recorded, and every recorded sale gets its split lines."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from apps.clearing.errors import MemberRequiredError
from apps.clearing.models import ClearingLine
from apps.loyalty.errors import InsufficientPointsError
from apps.loyalty.models import PointsAccount
from apps.members.models import Member
from apps.sales.models import Sale
from apps.sales.services import (
    MemberRef,
    PaymentLine,
    SaleRequest,
    SaleResult,
    record_sale,
    record_sales,
)
from apps.settlement.models import SplitLine
from tests.apps.clearing.conftest import lines_of


def _request(external_id, points, total="20.00", member=None):
    cash = Decimal(total) - Decimal(points)
    payments = [PaymentLine("points", points)]
    if cash:
        payments.append(PaymentLine("cash", str(cash)))
    return SaleRequest(
        external_id=external_id, occurred_at=None, total=total, payments=payments, member=member
    )


def test_a_batch_clears_each_points_payment_and_refuses_only_the_sales_clearing_refuses(
    shops, member
):
    _, shop_y = shops
    results = record_sales(
        merchant=shop_y,
        requests=[
            _request("B-1", "6.00", member=member),  # 600 of 800 points
            _request("B-2", "5.00", member=member),  # 500 of the 200 left: refused
            _request("B-3", "2.00", member=member),  # the last 200
            _request("B-4", "1.00"),  # no member: refused
            _request("B-1", "6.00", member=member),  # a replay of B-1 in the same batch
        ],
    )
    assert [type(r) for r in results] == [
        SaleResult, InsufficientPointsError, SaleResult, MemberRequiredError, SaleResult,
    ]  # fmt: skip
    first, _, third, _, replay = results
    assert isinstance(first, SaleResult)
    assert isinstance(third, SaleResult)
    assert isinstance(replay, SaleResult)
    assert (first.created, third.created, replay.created) == (True, True, False)
    assert replay.sale.pk == first.sale.pk
    assert sorted(Sale.objects.values_list("external_id", flat=True)) == ["B-1", "B-3"]
    # Redemptions come before the awards: 800 - 600 - 200, then 14 + 18 earned on the cash.
    assert PointsAccount.objects.get(member=member).balance == 32
    assert (first.sale.points_earned, third.sale.points_earned) == (14, 18)
    assert lines_of(third.sale.pk) == [
        ("Y Acceptor", "acceptor", 200, "2.00"),
        ("mall", "funder", -200, "-2.00"),
    ]
    assert set(ClearingLine.objects.values_list("sale_id", flat=True)) == {
        first.sale.pk,
        third.sale.pk,
    }
    totals = dict(
        SplitLine.objects.filter(refund__isnull=True)
        .values_list("sale__external_id")
        .annotate(total=Sum("amount"))
    )
    assert totals == {"B-1": Decimal("20.00"), "B-3": Decimal("20.00")}


def test_a_single_call_refused_by_clearing_leaves_no_member_joined_at_the_till(shops, member):
    _, shop_y = shops
    members_before = Member.objects.count()
    with pytest.raises(InsufficientPointsError):
        record_sale(
            merchant=shop_y, external_id="J-1", occurred_at=None, total="5.00",
            payments=[PaymentLine("points", "5.00")], member_ref=MemberRef(phone="13800138123"),
        )  # fmt: skip
    assert (Member.objects.count(), Sale.objects.count(), ClearingLine.objects.count()) == (
        members_before,
        0,
        0,
    )
