"""Isolation inside one mall: a merchant never reaches another merchant's sales, and a member
never another member's receipts.

Like the cross-tenant suite, the operations are read from OpenAPI: every merchant-portal and
integration operation that takes an `external_id`, and every member operation that takes a
`receipt_id`, is called with merchant A's (member A's) credential and merchant B's (member B's)
object -> 404, and nothing changes.
"""

import json
import re

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.members.services import create_member, issue_member_tokens
from atrium.api import integration_api, member_api, merchant_api
from tests.conftest import Api, host_of, login, signed_headers
from tests.isolation.sales_world import sale_and_receipt, sales_counts

BODIES = {
    ("POST", "/api/integration/v1/sales/{external_id}/refunds"): {"refund_id": "R", "amount": "1"},
    ("POST", "/api/merchant/v1/sales/{external_id}/refunds"): {"refund_id": "R", "amount": "1"},
}


def _operations(surface, api, parameter):
    schema = api.get_openapi_schema(path_prefix=f"/api/{surface}/v1")
    for path, methods in schema["paths"].items():
        if f"{{{parameter}}}" not in path:
            continue
        for method in methods:
            yield pytest.param(surface, path, method.upper(), id=f"{method.upper()} {path}")


MERCHANT_OPERATIONS = [
    *_operations("integration", integration_api, "external_id"),
    *_operations("merchant", merchant_api, "external_id"),
]
MEMBER_OPERATIONS = list(_operations("member", member_api, "receipt_id"))


@pytest.fixture
def mall(mall_a, make_merchant):
    """Two merchants and two members of mall A; merchant B and member B own a sale and a receipt."""
    shop_a = make_merchant(mall_a, name="A shop", cashier="a-cashier")
    shop_b = make_merchant(mall_a, name="B shop", cashier="b-cashier")
    with tenant_context(mall_a):
        member_a, member_b = create_member(display_name="A"), create_member(display_name="B")
        sale_b, receipt_b = sale_and_receipt(shop_b.merchant, member_b)
        member_token = issue_member_tokens(member=member_a).access_token
    connection.set_schema_to_public()
    api = Api(host_of("mall-a"))
    return {
        "tenant": mall_a,
        "shop_a": shop_a,
        "merchant_token": login(api, "merchant", "a-cashier")["access_token"],
        "member_token": member_token,
        "external_id": sale_b.external_id,
        "receipt_id": str(receipt_b.pk),
    }


def _counts(tenant):
    with tenant_context(tenant):
        counts = sales_counts()
    connection.set_schema_to_public()
    return counts


@pytest.mark.parametrize(("surface", "path", "method"), MERCHANT_OPERATIONS)
def test_another_merchants_sale_is_not_found(mall, surface, path, method):
    before = _counts(mall["tenant"])
    filled = re.sub(r"\{external_id\}", mall["external_id"], path)
    body = BODIES.get((method, path), {}) if method != "GET" else None
    if surface == "integration":
        shop = mall["shop_a"]
        raw = json.dumps(body).encode() if body is not None else b""
        headers = signed_headers(shop.key_id, shop.secret, method, filled, raw)
        response = Api(host_of("mall-a")).request(method, filled, body, headers=headers)
    else:
        response = Api(host_of("mall-a"), mall["merchant_token"]).request(method, filled, body)
    assert (response.status_code, response.json()["code"]) == (404, "sales.not_found"), (
        method,
        path,
        response.content,
    )
    assert _counts(mall["tenant"]) == before


@pytest.mark.parametrize(("surface", "path", "method"), MEMBER_OPERATIONS)
def test_another_members_receipt_is_not_found(mall, surface, path, method):
    before = _counts(mall["tenant"])
    filled = re.sub(r"\{receipt_id\}", mall["receipt_id"], path)
    response = Api(host_of("mall-a"), mall["member_token"]).request(
        method, filled, {} if method != "GET" else None
    )
    assert (response.status_code, response.json()["code"]) == (404, "sales.receipt_not_found")
    assert _counts(mall["tenant"]) == before


def test_the_suite_sees_the_sales_operations():
    assert len(MERCHANT_OPERATIONS) >= 4
    assert len(MEMBER_OPERATIONS) >= 1


def test_a_merchant_reads_only_its_own_clearing(mall_a, make_merchant):
    """Clearing reads take the signed-in merchant, never an id: merchant A sees none of B's
    lines and a zero position, whatever it passes."""
    import datetime as dt

    from django.utils import timezone

    from apps.loyalty.services import ledger
    from apps.sales.services import PaymentLine, record_sale

    shop_a = make_merchant(mall_a, name="A shop", cashier="a-cashier")
    shop_b = make_merchant(mall_a, name="B shop", cashier="b-cashier")
    with tenant_context(mall_a):
        member = create_member(display_name="B payer")
        ledger.earn_points(
            member=member, points=100, idempotency_key="b", source_type="sale", source_id="b",
            issuer_merchant_id=shop_b.merchant.pk, pending_days=0,
        )  # fmt: skip
        record_sale(
            merchant=shop_b.merchant, external_id="B-1", occurred_at=None, total="1.00",
            payments=[PaymentLine("points", "1.00")], member=member,
        )  # fmt: skip
    connection.set_schema_to_public()
    api = Api(
        host_of("mall-a"), login(Api(host_of("mall-a")), "merchant", "a-cashier")["access_token"]
    )
    today = timezone.localdate()
    lines = api.get(f"/api/merchant/v1/clearing/lines?merchant_id={shop_b.merchant.pk}").json()
    assert lines["results"] == []
    start = today - dt.timedelta(days=1)
    position = api.get(
        f"/api/merchant/v1/clearing/position?start={start}&end={today}"
        f"&merchant_id={shop_b.merchant.pk}"
    ).json()
    assert (position["merchant_name"], position["net_amount"], position["points_issued"]) == (
        "A shop", "0.00", 0,
    )  # fmt: skip
    assert shop_a.merchant.pk != shop_b.merchant.pk
