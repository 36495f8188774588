import json
from decimal import Decimal

import pytest
from alipay.aop.api.util.SignatureUtils import sign_with_rsa2

from integrations.alipay.client import (
    AlipayClient,
    AlipayConfig,
    AlipayRejectedError,
    AlipaySignatureError,
    RoyaltyReceiver,
    RoyaltyTransfer,
    royalty_capacity,
    sign_rsa2,
    verify_rsa2,
)
from integrations.alipay.fake import FakeAlipayGateway, generate_rsa_keypair

APP_ID = "2021000000000001"
MALL_TRADE = "2026112322001400000001"
STARBUCKS = RoyaltyReceiver(account="2088000000000001", name="星巴克")


@pytest.fixture(scope="module")
def app_keys():
    return generate_rsa_keypair()  # fresh per run, never committed


@pytest.fixture
def fake(app_keys):
    with FakeAlipayGateway(app_id=APP_ID, app_public_key=app_keys[1]) as gateway:
        gateway.add_trade(MALL_TRADE, Decimal("100.00"))
        yield gateway


@pytest.fixture
def client(fake, app_keys):
    return AlipayClient(
        AlipayConfig(
            app_id=APP_ID,
            app_private_key=app_keys[0],
            alipay_public_key=fake.alipay_public_key,
            gateway=fake.gateway,
        )
    )


def test_our_rsa2_signature_equals_the_sdk_s(app_keys):
    content = 'app_id=1&biz_content={"a":"分账"}&method=x'
    body = "".join(app_keys[0].strip().splitlines()[1:-1])  # the SDK wants the bare PKCS#1 body
    assert sign_rsa2(app_keys[0], content) == sign_with_rsa2(body, content, "utf-8")
    assert verify_rsa2(app_keys[1], content.encode(), sign_rsa2(app_keys[0], content)) is True
    assert verify_rsa2(app_keys[1], b"tampered", sign_rsa2(app_keys[0], content)) is False


def test_bind_then_settle_then_query(client, fake):
    client.bind_receivers([STARBUCKS], out_request_no="bind-1")
    result = client.order_settle(
        trade_no=MALL_TRADE,
        out_request_no="settle-1",
        transfers=[RoyaltyTransfer(receiver=STARBUCKS, amount=Decimal("30.00"), desc="11月结算")],
    )
    assert result.trade_no == MALL_TRADE
    assert len(result.settle_no) == 20
    assert fake.bound == {"2088000000000001"}
    [settle] = fake.settles
    assert settle.transfers == [
        {
            "amount": "30.00",
            "desc": "11月结算",
            "royalty_type": "transfer",
            "trans_in": "2088000000000001",
            "trans_in_name": "星巴克",
            "trans_in_type": "userId",
        }
    ]
    state = client.settle_query(trade_no=MALL_TRADE, out_request_no="settle-1")
    assert state.succeeded is True
    assert [(d["trans_in"], d["amount"]) for d in state.details] == [("2088000000000001", "30.00")]
    # The same request number again is the same settle: nothing moves twice.
    again = client.order_settle(
        trade_no=MALL_TRADE,
        out_request_no="settle-1",
        transfers=[RoyaltyTransfer(receiver=STARBUCKS, amount=Decimal("30.00"))],
    )
    assert again.settle_no == result.settle_no
    assert len(fake.settles) == 1


def test_unbound_receiver_and_the_30_percent_cap_are_refused(client, fake):
    with pytest.raises(AlipayRejectedError) as unbound:
        client.order_settle(
            trade_no=MALL_TRADE,
            out_request_no="s-1",
            transfers=[RoyaltyTransfer(receiver=STARBUCKS, amount=Decimal("1.00"))],
        )
    assert (unbound.value.code, unbound.value.sub_code) == (
        "40004",
        "ACQ.ROYALTY_RECEIVER_NOT_BIND",
    )
    client.bind_receivers([STARBUCKS], out_request_no="bind-1")
    client.order_settle(
        trade_no=MALL_TRADE,
        out_request_no="s-2",
        transfers=[RoyaltyTransfer(receiver=STARBUCKS, amount=Decimal("29.99"))],
    )
    with pytest.raises(AlipayRejectedError) as capped:
        client.order_settle(
            trade_no=MALL_TRADE,
            out_request_no="s-3",
            transfers=[RoyaltyTransfer(receiver=STARBUCKS, amount=Decimal("0.02"))],
        )
    assert capped.value.sub_code == "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR"
    assert [s.out_request_no for s in fake.settles] == ["s-2"]


def test_a_request_signed_with_another_key_is_refused(fake):
    other_private, _ = generate_rsa_keypair()
    stranger = AlipayClient(
        AlipayConfig(
            app_id=APP_ID,
            app_private_key=other_private,
            alipay_public_key=fake.alipay_public_key,
            gateway=fake.gateway,
        )
    )
    with pytest.raises(AlipayRejectedError) as refused:
        stranger.bind_receivers([STARBUCKS], out_request_no="bind-x")
    assert (refused.value.code, refused.value.sub_code) == ("40002", "isv.invalid-signature")
    assert fake.bound == set()


def test_an_answer_not_signed_by_alipay_is_refused(fake, app_keys):
    _, not_alipay = generate_rsa_keypair()
    client = AlipayClient(
        AlipayConfig(
            app_id=APP_ID,
            app_private_key=app_keys[0],
            alipay_public_key=not_alipay,
            gateway=fake.gateway,
        )
    )
    with pytest.raises(AlipaySignatureError):
        client.bind_receivers([STARBUCKS], out_request_no="bind-1")


def test_signed_params_are_what_the_gateway_expects(client):
    fields = client.signed_params(
        {"method": "alipay.trade.order.settle", "version": "1.0", "biz_content": {"a": 0}}
    )
    assert sorted(fields) == [
        "app_id",
        "biz_content",
        "charset",
        "format",
        "method",
        "sign",
        "sign_type",
        "timestamp",
        "version",
    ]
    assert json.loads(fields["biz_content"]) == {
        "a": 0
    }  # a zero survives (the SDK's models drop it)
    assert (fields["sign_type"], fields["charset"]) == ("RSA2", "utf-8")


def test_royalty_capacity_rounds_each_order_down_to_the_cent():
    assert royalty_capacity([Decimal("100.00"), Decimal("0.05"), Decimal("33.33")]) == Decimal(
        "40.00"
    )
    assert royalty_capacity([]) == Decimal("0.00")
    assert royalty_capacity([Decimal("10.00")], ratio=Decimal("0.5")) == Decimal("5.00")
