"""The console's 通积通兑 and 对账 pages and the merchant portal's clearing panel, rendered with
real data: exact figures on the page, settings saved through the form, a bill uploaded."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.clearing.models import FundingPolicy
from apps.clearing.services import set_funding_policy
from apps.loyalty.services import ledger
from apps.members.services import create_member
from apps.reconciliation.models import ReconciliationRun
from apps.sales.services import PaymentLine, record_sale
from integrations.bills import PAYMENT, BillLine
from integrations.wechatpay.bills import render_trade_bill
from tests.conftest import host_of
from tests.web import Browser, text


@pytest.fixture
def alliance(mall_a, make_merchant):
    shop_x = make_merchant(mall_a, name="积分发放店", cashier="x-till")
    shop_y = make_merchant(mall_a, name="积分受理店", cashier="y-till")
    with tenant_context(mall_a):
        now = timezone.now()
        set_funding_policy(
            source="shared", merchant_share=Decimal("0.5"), now=now - dt.timedelta(9)
        )
        member = create_member(display_name="P")
        ledger.earn_points(
            member=member, points=500, idempotency_key="x", issuer_merchant_id=shop_x.merchant.pk,
            source_type="sale", source_id="x", pending_days=0, now=now - dt.timedelta(minutes=5),
        )  # fmt: skip
        record_sale(
            merchant=shop_y.merchant, external_id="A-1", occurred_at=None, total="3.00",
            payments=[PaymentLine("points", "3.00")], member=member,
        )  # fmt: skip
    connection.set_schema_to_public()
    return mall_a


def test_the_alliance_page_shows_liability_and_positions_and_saves_settings(alliance):
    browser = Browser(host_of("mall-a"))
    browser.sign_in("console", "owner")
    body = text(browser.get("/console/alliance/"))
    assert 'data-testid="liability-total">¥2.00<' in body  # 200 points left × ¥0.01
    assert '<td class="primary">积分受理店</td>' in body
    assert '<td class="right num">3.00</td>' in body  # accepted
    assert '<td class="right num">-1.50</td>' in body  # X funds half
    saved = browser.post(
        "/console/alliance/",
        {"point_value": "0.0200", "funding_source": "mall", "merchant_share": ""},
    )
    assert saved.status_code == 302
    refused = browser.post(
        "/console/alliance/",
        {"point_value": "0.02", "funding_source": "shared", "merchant_share": ""},
    )
    assert refused.status_code == 200
    assert '<ul class="errors">' in text(refused)
    with tenant_context(alliance):
        assert list(FundingPolicy.objects.order_by("effective_from").values_list("source", flat=True)) == [
            "shared", "mall",
        ]  # fmt: skip
    connection.set_schema_to_public()
    assert 'data-testid="point-value">¥0.0200' in text(browser.get("/console/alliance/"))


def test_the_merchant_portal_shows_its_own_clearing_panel(alliance):
    browser = Browser(host_of("mall-a"))
    browser.sign_in("merchant", "x-till")
    body = text(browser.get("/merchant/"))
    assert 'data-testid="clearing-panel"' in body
    assert 'data-testid="clearing-net">¥-1.50<' in body


def test_the_reconciliation_page_uploads_a_bill_and_shows_its_breaks(alliance):
    at = timezone.localtime().replace(tzinfo=None, microsecond=0)
    bill = render_trade_bill([BillLine(PAYMENT, "W-404", "X", "", Decimal("8.80"), at)])
    browser = Browser(host_of("mall-a"))
    browser.sign_in("console", "owner")
    response = browser.post(
        "/console/reconciliation/",
        {"channel": "wechat", "bill_date": timezone.localdate().isoformat(),
         "file": SimpleUploadedFile("bill.csv", bill, content_type="text/csv")},
    )  # fmt: skip
    assert response.status_code == 302
    body = text(browser.get(response["Location"]))
    assert 'data-testid="run-status">有差异<' in body
    assert '<td class="mono">W-404</td>' in body
    assert '<td class="right num">8.80</td>' in body
    listing = text(browser.get("/console/reconciliation/"))
    assert "微信支付" in listing
    with tenant_context(alliance):
        assert ReconciliationRun.objects.get().missing_ours == 1
    connection.set_schema_to_public()
    bad = browser.post(
        "/console/reconciliation/",
        {"channel": "alipay", "bill_date": "2026-11-01",
         "file": SimpleUploadedFile("bill.csv", b"junk", content_type="text/csv")},
    )  # fmt: skip
    assert bad.status_code == 200
    assert 'class="field invalid"' in text(bad)
