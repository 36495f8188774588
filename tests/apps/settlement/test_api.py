"""Console split-rule API (draft, edit, version, publish, preview, bad input) and the merchant
portal's split lines and contract summary (its own only)."""

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.merchants.services import create_contract
from apps.sales.services import PaymentLine, record_sale
from apps.settlement.models import SplitRule
from tests.conftest import Api, host_of, login


@pytest.fixture
def shops(mall_a, make_merchant):
    a = make_merchant(mall_a, name="A shop", cashier="a-cashier")
    b = make_merchant(mall_a, name="B shop", cashier="b-cashier")
    with tenant_context(mall_a):
        for setup, rate in ((a, "0.1800"), (b, "0.1000")):
            create_contract(
                merchant=setup.merchant,
                kind="concession",
                commission_rate=rate,
                effective_from=timezone.localdate(),
                payout_account="6222021234567890",
            )
            record_sale(
                merchant=setup.merchant,
                external_id="S1",
                occurred_at=timezone.now(),
                total="100.00",
                payments=[PaymentLine("cash", "100.00")],
            )
    connection.set_schema_to_public()
    return a, b


def _rule(console, **over):
    body = {
        "name": "alipay fee",
        "kind": "channel_fee",
        "rate": "0.0060",
        "payment_method": "alipay",
    }
    return console.post("/api/console/v1/split-rules", {**body, **over})


def test_a_rule_is_drafted_edited_published_then_only_versioned(console_a, mall_a):
    created = _rule(console_a)
    assert created.status_code == 201, created.content
    rule = created.json()
    assert (rule["status"], rule["version"], rule["rate"]) == ("draft", 1, "0.0060")
    edited = console_a.patch(f"/api/console/v1/split-rules/{rule['id']}", {"rate": "0.0055"})
    assert edited.json()["rate"] == "0.0055"
    published = console_a.post(f"/api/console/v1/split-rules/{rule['id']}/publish")
    assert published.json()["status"] == "published"
    refused = console_a.patch(f"/api/console/v1/split-rules/{rule['id']}", {"rate": "0.0100"})
    assert (refused.status_code, refused.json()["code"]) == (409, "settlement.rule_published")
    again = console_a.post(f"/api/console/v1/split-rules/{rule['id']}/publish")
    assert (again.status_code, again.json()["code"]) == (409, "settlement.rule_published")
    version = console_a.post(
        f"/api/console/v1/split-rules/{rule['id']}/versions", {"rate": "0.0100"}
    )
    assert (version.status_code, version.json()["version"], version.json()["rate"]) == (
        201,
        2,
        "0.0100",
    )
    second = console_a.post(f"/api/console/v1/split-rules/{rule['id']}/versions", {})
    assert (second.status_code, second.json()["code"]) == (409, "settlement.rule_draft_exists")
    with tenant_context(mall_a):
        assert SplitRule.objects.get(pk=rule["id"]).rate.as_tuple() == (0, (5, 5), -4)
    connection.set_schema_to_public()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"rate": "1.5"}, 422, "request.invalid"),
        ({"rate": "0.12345"}, 422, "request.invalid"),
        ({"kind": "bonus"}, 422, "request.invalid"),
        ({"payment_method": "points"}, 400, "settlement.rule_invalid"),
        ({"business_format": "casino"}, 400, "settlement.rule_invalid"),
        (
            {"effective_from": "2030-02-01", "effective_to": "2030-01-01"},
            400,
            "settlement.rule_invalid",
        ),
        ({"merchant_id": "00000000-0000-0000-0000-000000000001"}, 404, "merchant.not_found"),
    ],
)
def test_bad_rules_are_refused_and_nothing_is_written(console_a, mall_a, body, status, code):
    response = _rule(console_a, **body)
    assert (response.status_code, response.json()["code"]) == (status, code), response.content
    with tenant_context(mall_a):
        assert SplitRule.objects.count() == 0
    connection.set_schema_to_public()


def test_a_backdated_draft_cannot_be_published(console_a, mall_a):
    rule = _rule(console_a, effective_from="2020-01-01").json()
    response = console_a.post(f"/api/console/v1/split-rules/{rule['id']}/publish")
    assert (response.status_code, response.json()["code"]) == (409, "settlement.rule_backdated")


def test_the_preview_shows_each_line_and_why(console_a, shops):
    a, _ = shops
    rule = _rule(console_a).json()
    console_a.post(f"/api/console/v1/split-rules/{rule['id']}/publish")
    response = console_a.post(
        "/api/console/v1/split-preview",
        {
            "merchant_id": str(a.merchant.pk),
            "total": "200.00",
            "payments": [
                {"method": "alipay", "amount": "150.00"},
                {"method": "points", "amount": "50.00"},
            ],
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["lines"] == [
        {
            "party": "channel",
            "kind": "channel_fee",
            "amount": "0.90",
            "rule_id": rule["id"],
            "why": "rule alipay fee v1: 0.6%",
        },
        {
            "party": "mall",
            "kind": "commission",
            "amount": "36.00",
            "rule_id": None,
            "why": "contract concession: 18%",
        },
        {
            "party": "merchant",
            "kind": "merchant_share",
            "amount": "163.10",
            "rule_id": None,
            "why": "the merchant keeps the rest",
        },
    ]
    mismatch = console_a.post(
        "/api/console/v1/split-preview",
        {
            "merchant_id": str(a.merchant.pk),
            "total": "200.00",
            "payments": [{"method": "cash", "amount": "100.00"}],
        },
    )
    assert (mismatch.status_code, mismatch.json()["code"]) == (400, "sales.total_mismatch")


def test_a_merchant_sees_only_its_own_lines_and_contract(shops):
    a, b = shops
    api = Api(host_of("mall-a"))
    token = login(api, "merchant", "a-cashier")["access_token"]
    merchant = api.as_token(token)
    listed = merchant.get("/api/merchant/v1/split-lines")
    assert listed.status_code == 200, listed.content
    rows = listed.json()["results"]
    assert sorted((r["kind"], r["amount"], r["external_id"]) for r in rows) == [
        ("commission", "18.00", "S1"),
        ("merchant_share", "82.00", "S1"),
    ]
    own = merchant.get("/api/merchant/v1/sales/S1/split-lines").json()
    assert sorted(r["amount"] for r in own) == ["18.00", "82.00"]
    contract = merchant.get("/api/merchant/v1/contract").json()
    assert (contract["kind"], contract["commission_rate"], contract["payout_account"]) == (
        "concession",
        "0.1800",
        "************7890",
    )
    assert contract["merchant_id"] == str(a.merchant.pk) != str(b.merchant.pk)
    past = merchant.get("/api/merchant/v1/contract?day=2000-01-01")
    assert (past.status_code, past.json()["code"]) == (404, "merchant.contract_not_found")
