"""Split lines of sales and refunds: each contract kind, per-category rates, channel fees per
method (none for points), subsidies, rule priorities and versions, refunds, the batch writer."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.loyalty.services.ledger import earn_points
from apps.members.services import create_member
from apps.merchants.services import create_contract, create_merchant
from apps.sales.models import Sale
from apps.sales.services import ItemLine, PaymentLine, record_sale, refund_sale
from apps.settlement.models import SettlementCursor, SplitLine
from apps.settlement.selectors import settle_on
from apps.settlement.services.rules import create_rule, draft_next_version, publish_rule
from apps.settlement.services.split import (
    SaleToSplit,
    cursor_statements,
    plan_sales_split,
    settle_days,
)
from atrium.sql import run_statements, write_together

SHANGHAI = ZoneInfo("Asia/Shanghai")
PAST = dt.date(2026, 1, 1)


@pytest.fixture
def shop(mall):
    return create_merchant(name="Split Shop", business_format="retail")


def contract(shop, kind="concession", **kw):
    return create_contract(merchant=shop, kind=kind, effective_from=PAST, today=PAST, **kw)


def rule(kind, rate, *, day=PAST, **scope):
    draft = create_rule(
        values={
            "name": f"{kind} {rate}",
            "kind": kind,
            "rate": rate,
            "effective_from": day,
            **scope,
        }
    )
    return publish_rule(rule=draft, today=day)


def sell(shop, external_id, total, payments=None, items=(), when=None, member=None):
    return record_sale(
        merchant=shop,
        member=member,
        external_id=external_id,
        occurred_at=when or dt.datetime(2026, 3, 2, 12, tzinfo=SHANGHAI),
        total=total,
        payments=payments or [PaymentLine("alipay", total)],
        items=items,
    ).sale


def lines(sale, refund=None):
    rows = SplitLine.objects.filter(sale=sale, refund=refund).order_by("party", "kind", "amount")
    return [(r.party, r.kind, str(r.amount)) for r in rows]


def test_a_concession_takes_its_commission_and_the_channel_its_fee(shop):
    contract(shop, commission_rate="0.1800")
    rule("channel_fee", "0.0060", payment_method="alipay")
    sale = sell(shop, "S1", "100.00")
    assert lines(sale) == [
        ("channel", "channel_fee", "0.60"),
        ("mall", "commission", "18.00"),
        ("merchant", "merchant_share", "81.40"),
    ]
    line = SplitLine.objects.get(sale=sale, kind="commission")
    assert (line.settle_on, line.merchant_id, line.rule_id) == (dt.date(2026, 3, 2), shop.pk, None)
    assert line.why == "contract concession: 18%"


@pytest.mark.parametrize(
    ("kind", "terms", "expected"),
    [
        ("fixed_rent", {"rent_amount": "20000.00"}, [("merchant", "merchant_share", "88.88")]),
        (
            "rent_plus_commission",
            {"rent_amount": "5000.00", "commission_rate": "0.0500"},
            [("mall", "commission", "4.44"), ("merchant", "merchant_share", "84.44")],
        ),
        (
            "guaranteed_minimum",
            {"minimum_amount": "30000.00", "commission_rate": "0.1200"},
            [("mall", "commission", "10.67"), ("merchant", "merchant_share", "78.21")],
        ),
    ],
)
def test_each_contract_kind_takes_its_commission(shop, kind, terms, expected):
    contract(shop, kind=kind, **terms)
    sale = sell(shop, "S1", "88.88", payments=[PaymentLine("cash", "88.88")])
    assert lines(sale) == expected


def test_no_contract_leaves_the_whole_sale_to_the_merchant(shop):
    sale = sell(shop, "S1", "10.00", payments=[PaymentLine("cash", "10.00")])
    assert lines(sale) == [("merchant", "merchant_share", "10.00")]


def test_a_category_rate_replaces_the_contract_rate_for_that_category(shop):
    contract(shop, commission_rate="0.1800", category_rates={"cosmetics": "0.1500"})
    items = [
        ItemLine(amount="60.00", category="cosmetics"),
        ItemLine(amount="40.00", category="shoes"),
    ]
    sale = sell(shop, "S1", "100.00", payments=[PaymentLine("cash", "100.00")], items=items)
    assert lines(sale) == [
        ("mall", "commission", "7.20"),
        ("mall", "commission", "9.00"),
        ("merchant", "merchant_share", "83.80"),
    ]


def test_points_pay_no_channel_fee_and_each_method_pays_its_own(shop):
    rule("channel_fee", "0.0060")  # any method
    rule("channel_fee", "0.0100", payment_method="card")
    payments = [
        PaymentLine("points", "30.00"),
        PaymentLine("alipay", "50.00"),
        PaymentLine("card", "20.00"),
    ]
    # Points pay only for a member who has them: ¥30 at ¥0.01 a point is 3,000 points.
    member = create_member()
    earn_points(member=member, points=3000, idempotency_key="split-test", pending_days=0)
    sale = sell(shop, "S1", "100.00", payments=payments, member=member)
    assert lines(sale) == [
        ("channel", "channel_fee", "0.20"),
        ("channel", "channel_fee", "0.30"),
        ("merchant", "merchant_share", "99.50"),
    ]


def test_a_mall_funded_coupon_writes_a_subsidy_pair(shop):
    contract(shop, commission_rate="0.1000")
    rule("subsidy", "1.0000", payment_method="coupon")
    payments = [PaymentLine("cash", "80.00"), PaymentLine("coupon", "20.00")]
    sale = sell(shop, "S1", "100.00", payments=payments)
    assert lines(sale) == [
        ("mall", "commission", "10.00"),
        ("mall", "subsidy", "-20.00"),
        ("merchant", "merchant_share", "90.00"),
        ("merchant", "subsidy", "20.00"),
    ]
    refund = refund_sale(merchant=shop, external_id="S1", refund_id="R1", amount="50.00").refund
    assert lines(sale, refund) == [
        ("mall", "commission", "-5.00"),
        ("mall", "subsidy", "10.00"),
        ("merchant", "merchant_share", "-45.00"),
        ("merchant", "subsidy", "-10.00"),
    ]


def test_the_highest_priority_then_the_most_specific_rule_wins(shop):
    contract(shop, commission_rate="0.1800")
    rule("commission", "0.1000", business_format="retail")
    rule("commission", "0.2000", merchant=shop)  # more specific, same priority
    sale = sell(shop, "S1", "100.00", payments=[PaymentLine("cash", "100.00")])
    assert lines(sale) == [("mall", "commission", "20.00"), ("merchant", "merchant_share", "80.00")]
    rule("commission", "0.0500", business_format="retail", priority=10)
    sale = sell(shop, "S2", "100.00", payments=[PaymentLine("cash", "100.00")])
    assert lines(sale) == [("mall", "commission", "5.00"), ("merchant", "merchant_share", "95.00")]
    other = create_merchant(name="Food", business_format="fnb")
    sale = sell(other, "S3", "100.00", payments=[PaymentLine("cash", "100.00")])
    assert lines(sale) == [("merchant", "merchant_share", "100.00")]


def test_a_new_version_applies_from_its_date_and_past_lines_never_change(shop):
    first = rule("commission", "0.2000")
    before = sell(shop, "S1", "100.00", when=dt.datetime(2026, 3, 1, 12, tzinfo=SHANGHAI))
    draft = draft_next_version(
        rule=first, values={"rate": "0.2500", "effective_from": dt.date(2026, 6, 1)}
    )
    publish_rule(rule=draft, today=dt.date(2026, 5, 1))
    assert (draft.rule_key, draft.version) == (first.rule_key, 2)
    march = sell(shop, "S2", "100.00", when=dt.datetime(2026, 3, 5, 12, tzinfo=SHANGHAI))
    july = sell(shop, "S3", "100.00", when=dt.datetime(2026, 7, 1, 12, tzinfo=SHANGHAI))
    assert (
        lines(before)
        == lines(march)
        == [
            ("mall", "commission", "20.00"),
            ("merchant", "merchant_share", "80.00"),
        ]
    )
    assert lines(july) == [("mall", "commission", "25.00"), ("merchant", "merchant_share", "75.00")]
    assert SplitLine.objects.get(sale=july, kind="commission").rule_id == draft.pk
    off = draft_next_version(
        rule=draft, values={"enabled": False, "effective_from": dt.date(2026, 8, 1)}
    )
    publish_rule(rule=off, today=dt.date(2026, 8, 1))
    august = sell(shop, "S4", "100.00", when=dt.datetime(2026, 8, 2, 12, tzinfo=SHANGHAI))
    assert lines(august) == [("merchant", "merchant_share", "100.00")]


def test_partial_refunds_take_their_share_and_the_last_takes_what_is_left(shop):
    contract(shop, commission_rate="0.1800")
    rule("channel_fee", "0.0060", payment_method="alipay")
    sale = sell(shop, "S1", "99.99")
    first = refund_sale(merchant=shop, external_id="S1", refund_id="R1", amount="33.33").refund
    assert lines(sale, first) == [
        ("channel", "channel_fee", "-0.20"),
        ("mall", "commission", "-6.00"),
        ("merchant", "merchant_share", "-27.13"),
    ]
    second = refund_sale(merchant=shop, external_id="S1", refund_id="R2", amount="0.01").refund
    assert lines(sale, second) == [("merchant", "merchant_share", "-0.01")]
    last = refund_sale(merchant=shop, external_id="S1", refund_id="R3", amount="66.65").refund
    assert sum(r.amount for r in SplitLine.objects.filter(refund=last)) == Decimal("-66.65")
    totals = {}
    for row in SplitLine.objects.filter(sale=sale):
        totals[row.kind] = totals.get(row.kind, Decimal(0)) + row.amount
    assert totals == {"channel_fee": 0, "commission": 0, "merchant_share": 0}


def test_a_refund_after_a_close_rolls_forward_but_the_sale_keeps_its_date(shop):
    contract(shop, commission_rate="0.1000")
    sale = sell(shop, "S1", "10.00")
    SettlementCursor.objects.create(merchant=shop, closed_through=timezone.localdate())
    refund = refund_sale(merchant=shop, external_id="S1", refund_id="R1", amount="10.00").refund
    days = set(SplitLine.objects.filter(refund=refund).values_list("settle_on", flat=True))
    assert days == {timezone.localdate() + dt.timedelta(days=1)}
    assert set(
        SplitLine.objects.filter(sale=sale, refund=None).values_list("settle_on", flat=True)
    ) == {dt.date(2026, 3, 2)}


def test_many_sales_split_with_one_insert_and_no_rule_read(shop):
    contract(shop, commission_rate="0.1000")
    rule("channel_fee", "0.0060", payment_method="alipay")
    sales = [sell(shop, f"S{i}", "10.00") for i in range(3)]
    SplitLine.objects.all().delete()
    rows = list(Sale.objects.select_related("merchant").filter(pk__in=[s.pk for s in sales]))
    given = [SaleToSplit(sale=s, payments=[PaymentLine("alipay", s.total)], items=()) for s in rows]
    planned = plan_sales_split(sales=given)  # rules and contracts from the process's snapshot
    with CaptureQueriesContext(connection) as queries:
        closed = dict(run_statements(cursor_statements([rows[0].merchant_id]))[1])
        write_together([planned.fragment(closed)])
    # the lines lock, the cursor, one insert
    assert len(queries.captured_queries) == 3
    written = SplitLine.objects.filter(sale__in=rows)
    assert written.count() == 9
    assert sum(line.amount for line in written) == Decimal("30.00")
    assert {line.settle_on for line in written} == {timezone.localdate(rows[0].occurred_at)}


def test_settle_days_agree_with_settle_on(shop):
    other = create_merchant(name="Other")
    SettlementCursor.objects.create(merchant=shop, closed_through=dt.date(2026, 10, 31))
    moments = [
        (shop.pk, dt.datetime(2026, 10, 20, 12, tzinfo=SHANGHAI)),
        (shop.pk, dt.datetime(2026, 11, 3, 12, tzinfo=SHANGHAI)),
        (other.pk, dt.datetime(2026, 10, 20, 12, tzinfo=SHANGHAI)),
    ]
    assert settle_days(moments=moments) == [settle_on(merchant_id=m, moment=t) for m, t in moments]
    assert settle_days(moments=moments) == [
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 3),
        dt.date(2026, 10, 20),
    ]
