"""Periods and statements: each contract kind, late lines, the states, payouts."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django_tenants.utils import tenant_context

from apps.merchants.services import create_merchant
from apps.settlement.models import SettlementCursor, Statement
from apps.settlement.services import statements as svc
from apps.settlement.statement_errors import (
    DisputeReasonRequiredError,
    PeriodNotClosableError,
    StatementNotFoundError,
    StatementStateError,
)
from tests.apps.settlement.statement_helpers import (
    at,
    clearing,
    concession_sale,
    contract,
    refund,
    sale,
    split,
)

D = Decimal
NOV = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))


def close_november(shop):
    return svc.close_due_periods(today=dt.date(2026, 12, 1), actor="test", merchants=[shop])


def lines_of(statement):
    return [
        (x.section, x.party, x.kind, x.amount, x.points, x.count, x.in_net)
        for x in statement.lines.order_by("position")
    ]


def test_concession_statement_aggregates_every_kind_of_line(mall_a):
    with tenant_context(mall_a):
        shop = create_merchant(name="联营店")
        contract(shop, kind="concession", effective_from=dt.date(2026, 11, 1))
        first = concession_sale(shop, "1000.00", "0.20", at(dt.date(2026, 11, 3)))
        concession_sale(shop, "500.00", "0.20", at(dt.date(2026, 11, 30), hour=23))
        fee_sale = sale(shop, "300.00", at(dt.date(2026, 11, 10)))
        split(fee_sale, [
            ("merchant", "merchant_share", "237.00"), ("mall", "commission", "60.00"),
            ("channel", "channel_fee", "3.00"), ("merchant", "subsidy", "10.00"),
            ("mall", "subsidy", "-10.00"),
        ])  # fmt: skip
        refund(first, "100.00", [("merchant", "merchant_share", "-80.00"),
                                 ("mall", "commission", "-20.00")], at(dt.date(2026, 11, 5)))  # fmt: skip
        clearing(shop, "acceptor", 500, "5.00", at(dt.date(2026, 11, 8)))
        clearing(shop, "funder", -200, "-2.00", at(dt.date(2026, 11, 9)))
        # A line of December is not in November's statement.
        concession_sale(shop, "70.00", "0.20", at(dt.date(2026, 12, 1), hour=0))

        [statement] = close_november(shop)

        assert (statement.period_start, statement.period_end) == NOV
        assert (statement.status, statement.cycle, statement.contract_kind) == (
            "draft", "monthly", "concession",
        )  # fmt: skip
        assert lines_of(statement) == [
            ("sale", "channel", "channel_fee", D("3.00"), 0, 1, False),
            ("sale", "mall", "commission", D("360.00"), 0, 3, False),
            ("sale", "mall", "subsidy", D("-10.00"), 0, 1, False),
            ("sale", "merchant", "merchant_share", D("1437.00"), 0, 3, True),
            ("sale", "merchant", "subsidy", D("10.00"), 0, 1, True),
            ("refund", "mall", "commission", D("-20.00"), 0, 1, False),
            ("refund", "merchant", "merchant_share", D("-80.00"), 0, 1, True),
            ("points", "merchant", "acceptor", D("5.00"), 500, 1, True),
            ("points", "merchant", "funder", D("-2.00"), -200, 1, True),
        ]
        assert (
            statement.gross_sales, statement.refunds, statement.commission,
            statement.channel_fees, statement.platform_fees, statement.subsidies,
            statement.merchant_due, statement.points_clearing, statement.rent,
            statement.minimum_topup, statement.net_payable, statement.line_count,
        ) == (
            D("1800.00"), D("-100.00"), D("340.00"), D("3.00"), D("0.00"), D("10.00"),
            D("1367.00"), D("3.00"), D("0.00"), D("0.00"), D("1370.00"), 13,
        )  # fmt: skip
        assert SettlementCursor.objects.get(merchant=shop).closed_through == NOV[1]
        assert statement.number == f"ST-20261101-{shop.pk.hex[:8].upper()}"


@pytest.mark.parametrize(
    ("kind", "rent", "minimum", "rent_total", "topup", "net"),
    [
        ("fixed_rent", "8000.00", "0.00", "8000.00", "0.00", "-7200.00"),
        ("rent_plus_commission", "3000.00", "0.00", "3000.00", "0.00", "-2200.00"),
        # Guaranteed minimum above the commission: the merchant tops it up.
        ("guaranteed_minimum", "0.00", "500.00", "0.00", "300.00", "500.00"),
        # Below the commission: nothing to top up.
        ("guaranteed_minimum", "0.00", "150.00", "0.00", "0.00", "800.00"),
        # Exactly the commission: nothing either.
        ("guaranteed_minimum", "0.00", "200.00", "0.00", "0.00", "800.00"),
        ("concession", "9999.00", "9999.00", "0.00", "0.00", "800.00"),
    ],
)
def test_each_contract_kind(mall_a, kind, rent, minimum, rent_total, topup, net):
    with tenant_context(mall_a):
        shop = create_merchant(name=f"{kind} shop")
        contract(shop, kind=kind, rent_amount=D(rent), minimum_amount=D(minimum),
                 effective_from=dt.date(2026, 11, 1))  # fmt: skip
        concession_sale(shop, "1000.00", "0.20", at(dt.date(2026, 11, 15)))
        [statement] = close_november(shop)
        assert (statement.commission, statement.merchant_due) == (D("200.00"), D("800.00"))
        assert (statement.rent, statement.minimum_topup, statement.net_payable) == (
            D(rent_total), D(topup), D(net),
        )  # fmt: skip
        contract_lines = [
            (x.section, x.amount)
            for x in statement.lines.filter(section__in=["rent", "minimum_topup"])
        ]
        expected = [("rent", -D(rent_total))] if D(rent_total) else []
        expected += [("minimum_topup", -D(topup))] if D(topup) else []
        assert contract_lines == expected


def test_daily_periods_close_t_plus_1_and_rent_once_a_month(mall_a):
    with tenant_context(mall_a):
        shop = create_merchant(name="日结店")
        contract(shop, kind="rent_plus_commission", cycle="daily", rent_amount=D("3100.00"),
                 effective_from=dt.date(2026, 11, 30))  # fmt: skip
        concession_sale(shop, "100.00", "0.10", at(dt.date(2026, 11, 30)))
        concession_sale(shop, "200.00", "0.10", at(dt.date(2026, 12, 1)))
        # On the 1st only the 30th is over.
        closed = svc.close_due_periods(today=dt.date(2026, 12, 1), actor="t", merchants=[shop])
        assert [(s.period_start, s.period_end, s.rent, s.net_payable) for s in closed] == [
            (dt.date(2026, 11, 30), dt.date(2026, 11, 30), D("0.00"), D("90.00")),
        ]
        closed = svc.close_due_periods(today=dt.date(2026, 12, 3), actor="t", merchants=[shop])
        assert [(s.period_start, s.rent, s.net_payable) for s in closed] == [
            (dt.date(2026, 12, 1), D("3100.00"), D("-2920.00")),
            (dt.date(2026, 12, 2), D("0.00"), D("0.00")),
        ]
        assert svc.close_due_periods(today=dt.date(2026, 12, 3), actor="t", merchants=[shop]) == []


def test_weekly_periods_are_iso_weeks():
    assert svc.period_of(cycle="weekly", day=dt.date(2026, 11, 26)) == (
        dt.date(2026, 11, 23), dt.date(2026, 11, 29),
    )  # fmt: skip
    assert svc.period_of(cycle="monthly", day=dt.date(2028, 2, 10)) == (
        dt.date(2028, 2, 1), dt.date(2028, 2, 29),
    )  # fmt: skip
    assert svc.period_of(cycle="daily", day=dt.date(2026, 1, 1)) == (
        dt.date(2026, 1, 1), dt.date(2026, 1, 1),
    )  # fmt: skip


def test_late_lines_roll_into_the_next_period_never_a_closed_one(mall_a):
    with tenant_context(mall_a):
        shop = create_merchant(name="迟到店")
        contract(shop, effective_from=dt.date(2026, 11, 1))
        concession_sale(shop, "100.00", "0.20", at(dt.date(2026, 11, 2)))
        [november] = close_november(shop)
        # A POS uploads a November sale after the close.
        late = concession_sale(shop, "50.00", "0.20", at(dt.date(2026, 11, 20)))
        assert {line.settle_on for line in late.split_lines.all()} == {dt.date(2026, 12, 1)}
        november.refresh_from_db()
        assert (november.gross_sales, november.net_payable, november.line_count) == (
            D("100.00"), D("80.00"), 2,
        )  # fmt: skip
        with pytest.raises(PeriodNotClosableError):
            svc.close_period(merchant=shop, start=NOV[0], end=NOV[1], contract=november.contract,
                             actor="t")  # fmt: skip
        [december] = svc.close_due_periods(today=dt.date(2027, 1, 1), actor="t", merchants=[shop])
        assert (december.period_start, december.gross_sales, december.net_payable) == (
            dt.date(2026, 12, 1), D("50.00"), D("40.00"),
        )  # fmt: skip


def test_a_period_that_has_not_ended_is_not_closed(mall_a):
    with tenant_context(mall_a):
        shop = create_merchant(name="未到期")
        contract(shop, effective_from=dt.date(2026, 11, 1))
        assert svc.close_due_periods(today=dt.date(2026, 11, 30), actor="t", merchants=[shop]) == []
        assert not SettlementCursor.objects.filter(merchant=shop).exists()


def test_without_a_contract_nothing_closes(mall_a):
    with tenant_context(mall_a):
        shop = create_merchant(name="无合同")
        concession_sale(shop, "10.00", "0.20", at(dt.date(2026, 11, 2)))
        assert close_november(shop) == []


def test_issue_confirm_dispute_resolve_pay(mall_a):
    with tenant_context(mall_a):
        shop = create_merchant(name="流程店")
        other = create_merchant(name="别家")
        contract(shop, effective_from=dt.date(2026, 11, 1))
        concession_sale(shop, "100.00", "0.20", at(dt.date(2026, 11, 2)))
        [statement] = close_november(shop)
        with pytest.raises(StatementStateError):
            svc.confirm_statement(merchant=shop, statement_id=statement.pk, actor="m")
        [issued] = svc.issue_statements(statement_ids=[statement.pk], actor="finance")
        assert (issued.status, issued.payout_route, issued.issued_by) == (
            "issued",
            "bank",
            "finance",
        )
        with pytest.raises(StatementNotFoundError):  # another merchant cannot touch it
            svc.confirm_statement(merchant=other, statement_id=statement.pk, actor="x")
        with pytest.raises(DisputeReasonRequiredError):
            svc.dispute_statement(merchant=shop, statement_id=statement.pk, reason="  ", actor="m")
        disputed = svc.dispute_statement(
            merchant=shop, statement_id=statement.pk, reason="少算一笔", actor="m"
        )
        assert (disputed.status, disputed.dispute_reason) == ("disputed", "少算一笔")
        with pytest.raises(StatementStateError):
            svc.record_payout(statement_id=statement.pk, reference="B1", actor="f")
        resolved = svc.resolve_dispute(statement_id=statement.pk, resolution="已核对", actor="f")
        assert (resolved.status, resolved.resolution, resolved.confirmed_by) == (
            "confirmed", "已核对", "f",
        )  # fmt: skip
        paid = svc.record_payout(statement_id=statement.pk, reference="ICBC-0001", actor="f")
        assert (paid.status, paid.payout_reference) == ("paid", "ICBC-0001")
        with pytest.raises(StatementStateError):
            svc.record_payout(statement_id=statement.pk, reference="again", actor="f")


def test_unanswered_statements_confirm_after_n_days(mall_a):
    with tenant_context(mall_a):
        shop = create_merchant(name="自动确认")
        contract(shop, effective_from=dt.date(2026, 11, 1))
        [statement] = close_november(shop)
        svc.issue_statements(statement_ids=[statement.pk], actor="f")
        issued_at = Statement.objects.get(pk=statement.pk).issued_at
        assert svc.auto_confirm_statements(now=issued_at + dt.timedelta(days=6), after_days=7) == 0
        assert svc.auto_confirm_statements(now=issued_at + dt.timedelta(days=7), after_days=7) == 1
        statement.refresh_from_db()
        assert (statement.status, statement.confirmed_by) == ("confirmed", "auto")


def test_the_database_refuses_a_net_that_is_not_the_sum(mall_a):
    with tenant_context(mall_a):
        shop = create_merchant(name="约束")
        contract(shop, effective_from=dt.date(2026, 11, 1))
        [statement] = close_november(shop)
        statement.net_payable = D("0.01")
        with pytest.raises(IntegrityError), transaction.atomic():
            statement.save(update_fields=["net_payable"])
