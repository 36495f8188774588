"""Payouts: the Alipay rail where it can carry the net (30% of the merchant's Alipay orders),
the bank transfer file otherwise."""

import datetime as dt
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from apps.merchants.services import create_merchant
from apps.settlement.services import payouts
from apps.settlement.services import statements as svc
from apps.settlement.statement_errors import PayoutFailedError, PayoutRouteError
from atrium.crypto import encrypt
from integrations.alipay.fake import FakeAlipayGateway, generate_rsa_keypair
from tests.apps.settlement.statement_helpers import at, concession_sale, contract

D = Decimal
APP_ID = "2021000000000009"


@pytest.fixture
def gateway(settings):
    private, public = generate_rsa_keypair()  # fresh, never committed
    with FakeAlipayGateway(app_id=APP_ID, app_public_key=public) as fake:
        settings.ALIPAY_APP_ID = APP_ID
        settings.ALIPAY_APP_PRIVATE_KEY = private
        settings.ALIPAY_PUBLIC_KEY = fake.alipay_public_key
        settings.ALIPAY_GATEWAY = fake.gateway
        yield fake


def confirmed(shop):
    [statement] = svc.close_due_periods(today=dt.date(2026, 12, 1), actor="t", merchants=[shop])
    svc.issue_statements(statement_ids=[statement.pk], actor="f")
    return svc.confirm_statement(merchant=shop, statement_id=statement.pk, actor="m")


def rail_shop(name, rent="700.00"):
    shop = create_merchant(name=name)
    contract(
        shop, kind="rent_plus_commission", rent_amount=D(rent), payout_method="alipay",
        payout_account_name="星巴克", payout_account_encrypted=encrypt("2088000000000077"),
        effective_from=dt.date(2026, 11, 1),
    )  # fmt: skip
    return shop


def test_the_rail_pays_what_fits_in_30_percent_of_the_orders(mall_a, gateway):
    with tenant_context(mall_a):
        shop = rail_shop("轨道店")
        concession_sale(shop, "600.00", "0.20", at(dt.date(2026, 11, 3)), alipay_trade="T1")
        concession_sale(shop, "400.00", "0.20", at(dt.date(2026, 11, 4)), alipay_trade="T2")
        gateway.add_trade("T1", D("600.00"))
        gateway.add_trade("T2", D("400.00"))
        statement = confirmed(shop)
        # 800 due - 700 rent = 100, within 30% of 1000.
        assert (statement.net_payable, statement.payout_route) == (D("100.00"), "alipay")
        paid = payouts.pay_via_alipay(statement_id=statement.pk, actor="f")
        assert (paid.status, paid.payout_reference) == ("paid", f"ALIPAY:{statement.number}")
        assert gateway.bound == {"2088000000000077"}
        assert [
            (s.trade_no, s.out_request_no, s.transfers[0]["amount"]) for s in gateway.settles
        ] == [
            ("T1", f"{statement.number}-1", "100.00"),
        ]


def test_the_rail_splits_over_several_orders_within_each_cap(mall_a, gateway):
    with tenant_context(mall_a):
        shop = rail_shop("多单店", rent="500.00")
        for trade, amount, day in (("U1", "500.00", 3), ("U2", "500.00", 4)):
            concession_sale(shop, amount, "0.20", at(dt.date(2026, 11, day)), alipay_trade=trade)
            gateway.add_trade(trade, D(amount))
        statement = confirmed(shop)
        assert (statement.net_payable, statement.payout_route) == (D("300.00"), "alipay")
        payouts.pay_via_alipay(statement_id=statement.pk, actor="f")
        assert [(s.trade_no, s.transfers[0]["amount"]) for s in gateway.settles] == [
            ("U1", "150.00"), ("U2", "150.00"),
        ]  # fmt: skip


def test_a_net_beyond_the_rail_goes_to_the_bank_file(mall_a, gateway):
    with tenant_context(mall_a):
        shop = rail_shop("超额店", rent="100.00")
        concession_sale(shop, "1000.00", "0.20", at(dt.date(2026, 11, 3)), alipay_trade="V1")
        statement = confirmed(shop)
        # 700 > 300 (30% of 1000): the rail cannot carry it.
        assert (statement.net_payable, statement.payout_route) == (D("700.00"), "bank")
        with pytest.raises(PayoutRouteError):
            payouts.pay_via_alipay(statement_id=statement.pk, actor="f")
        data = payouts.bank_transfer_file(statements=[statement])
        assert data.decode("gbk").split("\r\n")[1:3] == [
            f"1,2088000000000077,星巴克,,,700.00,结算单{statement.number}",
            "合计,1笔,,,,700.00,",
        ]
        assert gateway.settles == []


def test_a_refused_rail_payout_leaves_the_statement_confirmed(mall_a, gateway):
    with tenant_context(mall_a):
        shop = rail_shop("拒绝店")
        concession_sale(shop, "1000.00", "0.20", at(dt.date(2026, 11, 3)), alipay_trade="W1")
        statement = confirmed(shop)  # the fake knows no trade W1
        with pytest.raises(PayoutFailedError) as failed:
            payouts.pay_via_alipay(statement_id=statement.pk, actor="f")
        assert failed.value.extra == {"code": "40004", "sub_code": "ACQ.TRADE_NOT_EXIST"}
        statement.refresh_from_db()
        assert (statement.status, statement.payout_reference) == ("confirmed", "")


def test_only_confirmed_bank_statements_go_in_the_file(mall_a):
    with tenant_context(mall_a):
        shop = create_merchant(name="银行店")
        contract(shop, payout_account_name="某公司", payout_bank_name="招商银行",
                 payout_account_encrypted=encrypt("6225880000000001"),
                 effective_from=dt.date(2026, 11, 1))  # fmt: skip
        concession_sale(shop, "100.00", "0.20", at(dt.date(2026, 11, 3)))
        [statement] = svc.close_due_periods(today=dt.date(2026, 12, 1), actor="t", merchants=[shop])
        with pytest.raises(PayoutRouteError):
            payouts.bank_transfer_file(statements=[statement])
        svc.issue_statements(statement_ids=[statement.pk], actor="f")
        statement = svc.confirm_statement(merchant=shop, statement_id=statement.pk, actor="m")
        text = payouts.bank_transfer_file(statements=[statement]).decode("gbk")
        assert (
            text.split("\r\n")[1]
            == f"1,6225880000000001,某公司,招商银行,,80.00,结算单{statement.number}"
        )
