"""Points taken as payment: redemption through the ledger, clearing lines lot by lot, refunds,
policy snapshots, expiry, positions and liability, with exact amounts."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from apps.clearing import selectors
from apps.clearing.errors import MemberRequiredError, PointsNotWholeError, PolicyInvalidError
from apps.clearing.models import ClearingLine
from apps.clearing.services import set_funding_policy, update_clearing_settings
from apps.loyalty.errors import InsufficientPointsError
from apps.loyalty.models import PointsAccount, PointsLot
from apps.loyalty.services import ledger
from apps.loyalty.services.program import update_program_settings
from apps.members.services import create_member
from apps.sales.services import PaymentLine, record_sale
from apps.settlement.models import SettlementCursor
from tests.apps.clearing.conftest import counts, lines_of, pay_with_points, refund


def _balance(member):
    return PointsAccount.objects.get(member=member).balance


def test_a_points_payment_redeems_oldest_lots_first_and_clears_each_lot(shops, member):
    _, shop_y = shops
    result = pay_with_points(shop_y, member, "P-1", "6.00")
    assert lines_of(result.sale.pk) == [
        ("X Issuer", "funder", -250, "-2.50"),
        ("Y Acceptor", "acceptor", 100, "1.00"),
        ("Y Acceptor", "acceptor", 500, "5.00"),
        ("mall", "funder", -250, "-2.50"),
        ("mall", "funder", -100, "-1.00"),
    ]
    # 800 - 600 redeemed + 14 earned on the ¥14.00 cash part (points earn nothing).
    assert (_balance(member), result.points_earned) == (214, 14)
    by_entry = ClearingLine.objects.values("entry_id").annotate(total=Sum("amount"))
    assert [row["total"] for row in by_entry] == [Decimal("0.00")]
    today = timezone.localdate()
    assert set(
        ClearingLine.objects.filter(merchant__isnull=False).values_list("settle_on", flat=True)
    ) == {today}
    assert set(
        ClearingLine.objects.filter(merchant__isnull=True).values_list("settle_on", flat=True)
    ) == {None}


def test_partial_then_full_refund_returns_points_and_cancels_every_line(shops, member):
    _, shop_y = shops
    sale = pay_with_points(shop_y, member, "P-2", "6.00").sale
    refund(shop_y, "P-2", "R-1", "10.00")  # half the sale: 300 of the 600 points come back
    assert lines_of(sale.pk, "R-1") == [
        ("X Issuer", "funder", 100, "1.00"),
        ("Y Acceptor", "acceptor", -200, "-2.00"),
        ("Y Acceptor", "acceptor", -100, "-1.00"),
        ("mall", "funder", 100, "1.00"),
        ("mall", "funder", 100, "1.00"),
    ]
    # The mall's lot comes back first (last consumed), as a new lot with its dates and issuer.
    returned = PointsLot.objects.filter(entry__kind="reverse", entry__source_id=str(sale.pk))
    assert {(lot.issuer_merchant_id, lot.remaining) for lot in returned} == {
        (None, 100),
        (shops[0].pk, 200),
    }
    refund(shop_y, "P-2", "R-2", "10.00")
    assert lines_of(sale.pk, "R-2") == [
        ("X Issuer", "funder", 150, "1.50"),
        ("Y Acceptor", "acceptor", -300, "-3.00"),
        ("mall", "funder", 150, "1.50"),
    ]
    net = dict(ClearingLine.objects.values_list("merchant__name").annotate(total=Sum("amount")))
    assert net == {
        "X Issuer": Decimal("0.00"),
        "Y Acceptor": Decimal("0.00"),
        None: Decimal("0.00"),
    }
    # All 600 points are back; the 14 earned are taken back too: 800 again.
    assert _balance(member) == 800
    again = refund(shop_y, "P-2", "R-2", "10.00")
    assert (again.created, ClearingLine.objects.count()) == (False, 13)


def test_a_policy_change_never_alters_a_lot_earned_before_it(shops, member):
    shop_x, shop_y = shops
    set_funding_policy(source="mall")
    ledger.earn_points(
        member=member, points=200, idempotency_key="lot-x2", issuer_merchant_id=shop_x.pk,
        source_type="sale", source_id="x2", pending_days=0,
        now=timezone.now() + dt.timedelta(seconds=1),
    )  # fmt: skip
    ledger.adjust_points(member=member, points=-300, reason="take", idempotency_key="t", actor="o")
    # Left: lot X1 200 (policy 50/50), lot X2 200 (mall-funded policy).
    sale = pay_with_points(shop_y, member, "P-3", "4.00").sale
    assert lines_of(sale.pk) == [
        ("X Issuer", "funder", -100, "-1.00"),
        ("Y Acceptor", "acceptor", 200, "2.00"),
        ("Y Acceptor", "acceptor", 200, "2.00"),
        ("mall", "funder", -200, "-2.00"),
        ("mall", "funder", -100, "-1.00"),
    ]


def test_a_payment_that_is_not_whole_points_is_refused_and_nothing_is_written(shops, member):
    _, shop_y = shops
    update_program_settings(point_value=Decimal("0.0300"))
    before = counts()
    with pytest.raises(PointsNotWholeError) as error:
        pay_with_points(shop_y, member, "P-4", "1.00")
    assert (error.value.code, error.value.extra) == (
        "clearing.points_not_whole",
        {"amount": "1.00", "point_value": "0.0300"},
    )
    assert counts() == before
    # ¥0.99 is 33 points at ¥0.03.
    assert pay_with_points(shop_y, member, "P-5", "0.99").sale.points_balance == 800 - 33 + 19


def test_insufficient_points_refuse_the_whole_sale(shops, member):
    _, shop_y = shops
    before = counts()
    with pytest.raises(InsufficientPointsError) as error:
        pay_with_points(shop_y, member, "P-6", "9.00", total="9.00")
    assert (error.value.code, error.value.http_status) == ("loyalty.insufficient_points", 409)
    assert (counts(), _balance(member)) == (before, 800)


def test_a_points_payment_needs_a_member(shops, member):
    _, shop_y = shops
    before = counts()
    with pytest.raises(MemberRequiredError):
        record_sale(
            merchant=shop_y, external_id="P-7", occurred_at=None, total="5.00",
            payments=[PaymentLine("points", "5.00")],
        )  # fmt: skip
    assert counts() == before


def test_a_line_for_a_closed_day_rolls_to_the_next_open_day(shops, member):
    shop_x, shop_y = shops
    today = timezone.localdate()
    SettlementCursor.objects.create(merchant=shop_y, closed_through=today)
    sale = pay_with_points(shop_y, member, "P-8", "6.00").sale
    days = dict(
        ClearingLine.objects.filter(sale_id=sale.pk, merchant__isnull=False).values_list(
            "merchant_id", "settle_on"
        )
    )
    assert days == {shop_y.pk: today + dt.timedelta(days=1), shop_x.pk: today}


def test_expiry_writes_no_line_and_shows_in_the_issuer_position(shops, member):
    shop_x, _ = shops
    ledger.earn_points(
        member=member, points=70, idempotency_key="old", issuer_merchant_id=shop_x.pk,
        source_type="sale", source_id="x0", now=timezone.now() - dt.timedelta(days=400),
        pending_days=0,
    )  # fmt: skip
    assert ledger.expire_due_lots() == 1
    today = timezone.localdate()
    position = selectors.merchant_position(
        merchant=shop_x, start=today - dt.timedelta(30), end=today
    )
    assert (position.points_issued, position.points_expired, ClearingLine.objects.count()) == (
        500,
        70,
        0,
    )


def test_positions_and_liability_are_exact(shops, member):
    _, shop_y = shops
    today = timezone.localdate()
    liability = selectors.outstanding_liability()
    assert (liability.points, liability.amount) == (800, Decimal("8.00"))
    assert [(r.funder_name, r.points, r.amount) for r in liability.rows] == [
        ("", 550, Decimal("5.50")),
        ("X Issuer", 250, Decimal("2.50")),
    ]
    pay_with_points(shop_y, member, "P-9", "6.00")
    positions = {
        p.merchant_name: p
        for p in selectors.all_positions(start=today - dt.timedelta(days=30), end=today)
    }
    x, y = positions["X Issuer"], positions["Y Acceptor"]
    assert (x.points_issued, x.points_funded, x.funded_amount, x.net_amount) == (
        500, 250, Decimal("-2.50"), Decimal("-2.50"),
    )  # fmt: skip
    assert (y.points_accepted, y.accepted_amount, y.net_amount, y.points_issued) == (
        600, Decimal("6.00"), Decimal("6.00"), 14,
    )  # fmt: skip
    after = selectors.outstanding_liability()
    # Left: 200 of the mall's lot and Y's 14 earned points (50/50): 214 points, ¥2.14.
    assert (after.points, after.amount) == (214, Decimal("2.14"))
    assert [(r.funder_name, r.points, r.amount) for r in after.rows] == [
        ("", 207, Decimal("2.07")),
        ("Y Acceptor", 7, Decimal("0.07")),
    ]


def test_policy_and_settings_validation(mall):
    with pytest.raises(PolicyInvalidError):
        set_funding_policy(source="shared", merchant_share=Decimal(1))
    with pytest.raises(PolicyInvalidError):
        set_funding_policy(source="shared", merchant_share=Decimal("0.12345"))
    with pytest.raises(PolicyInvalidError):
        update_clearing_settings(source="mall", point_value=Decimal("0.00001"))
    policy = update_clearing_settings(
        source="shared", merchant_share=Decimal("0.3"), point_value=Decimal("0.02")
    )
    settings = selectors.clearing_settings()
    assert (settings.point_value, settings.funding_source, settings.merchant_share) == (
        Decimal("0.0200"), "shared", Decimal("0.3000"),
    )  # fmt: skip
    assert policy.merchant_share == Decimal("0.3")


def test_a_member_without_lots_from_a_merchant_pays_only_the_mall_lot(shops, mall):
    _, shop_y = shops
    member = create_member(display_name="Only mall")
    ledger.adjust_points(member=member, points=100, reason="g", idempotency_key="g1", actor="o")
    sale = pay_with_points(shop_y, member, "P-10", "1.00", total="1.00").sale
    assert lines_of(sale.pk) == [
        ("Y Acceptor", "acceptor", 100, "1.00"),
        ("mall", "funder", -100, "-1.00"),
    ]
