"""Isolation: no credential of mall A works at mall B, on any endpoint that exists.

The endpoint list is read from each API's OpenAPI schema, so a new endpoint joins this suite by
existing. Each authenticated operation is called
  1. on mall B's host with mall A's credential of the right kind -> 401, nothing written;
  2. on mall A's host with mall A's credential and mall B's object ids -> 404 (never 2xx).
A path parameter this suite does not know fails the test: add it to `B_IDS` below.
"""

import json
import re
import uuid

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.accounts.models import StaffUser
from apps.imports.services import start_import
from apps.loyalty.models import EarningRule
from apps.loyalty.services.adjustments import request_adjustment
from apps.members.services import create_member, issue_member_tokens
from apps.merchants.models import Contract, Merchant
from apps.reconciliation.services import import_bill
from apps.settlement.models import SplitRule
from apps.settlement.services.rules import create_rule
from atrium.api import console_api, integration_api, member_api, merchant_api, provider_api
from integrations.wechatpay.bills import render_trade_bill as render_wechat_bill
from tests.conftest import BASE, Api, host_of, login, signed_headers
from tests.isolation.sales_world import sale_and_receipt, sales_counts
from tests.isolation.statements_world import issued_statement, statement_states

SURFACES = {
    "console": console_api,
    "merchant": merchant_api,
    "member": member_api,
    "integration": integration_api,
}
SAFE_BODY = {}
# Bodies that pass validation, for operations whose body is checked before the object lookup.
BODIES = {
    ("POST", "/api/console/v1/loyalty/rules/{rule_id}/versions"): {"effective_from": "2030-01-01"},
    ("POST", "/api/integration/v1/sales/{external_id}/refunds"): {"refund_id": "R", "amount": "1"},
    ("POST", "/api/merchant/v1/sales/{external_id}/refunds"): {"refund_id": "R", "amount": "1"},
    ("POST", "/api/console/v1/receipts/{receipt_id}/reject"): {"reason": "isolation"},
    ("POST", "/api/console/v1/settlement/statements/{statement_id}/resolve"): {"resolution": "x"},
    ("POST", "/api/console/v1/settlement/statements/{statement_id}/payout"): {"reference": "x"},
    ("POST", "/api/merchant/v1/statements/{statement_id}/dispute"): {"reason": "isolation"},
    ("POST", "/api/console/v1/merchants/{merchant_id}/contracts"): {
        "kind": "concession",
        "effective_from": "2030-01-01",
    },
}


def _operations(api, prefix):
    schema = api.get_openapi_schema(path_prefix=prefix)
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method.upper(), bool(operation.get("security"))


def _all_operations():
    for surface, api in SURFACES.items():
        for path, method, secured in _operations(api, f"/api/{surface}/v1"):
            yield pytest.param(surface, path, method, secured, id=f"{method} {path}")


ALL_OPERATIONS = list(_all_operations())
SECURED = [param for param in ALL_OPERATIONS if param.values[3]]
# Path parameters that are a mall's own names (tier codes, behaviour kinds), not object ids:
# every mall has its own "gold"; they are covered by the refused-credentials test only.
NAMED_PARAMS = {"code", "behaviour"}
RANDOM_IDS = {
    "merchant_id": str(uuid.uuid4()),
    "staff_id": str(uuid.uuid4()),
    "key_id": "ak_x",
    "member_id": str(uuid.uuid4()),
    "rule_id": str(uuid.uuid4()),
    "adjustment_id": str(uuid.uuid4()),
    "external_id": "X-1",
    "sale_id": str(uuid.uuid4()),
    "receipt_id": str(uuid.uuid4()),
    "job_id": str(uuid.uuid4()),
    "run_id": str(uuid.uuid4()),
    "split_rule_id": str(uuid.uuid4()),
    "statement_id": str(uuid.uuid4()),
    "code": "gold",
    "behaviour": "check_in",
}


def _params(path):
    return set(re.findall(r"\{(\w+)\}", path))


SECURED_WITH_IDS = [param for param in SECURED if _params(param.values[1]) - NAMED_PARAMS]
PUBLIC = {
    ("POST", "/api/console/v1/auth/login"),
    ("POST", "/api/console/v1/auth/refresh"),
    ("POST", "/api/console/v1/auth/accept-invitation"),
    ("POST", "/api/merchant/v1/auth/login"),
    ("POST", "/api/merchant/v1/auth/refresh"),
    ("POST", "/api/member/v1/auth/refresh"),
    ("POST", "/api/member/v1/auth/otp"),
    ("POST", "/api/member/v1/auth/login"),
    ("POST", "/api/member/v1/auth/wechat"),
}


@pytest.fixture
def world(mall_a, mall_b, make_merchant):
    """Credentials of every kind in mall A, and objects of every kind in mall B."""
    shop_a = make_merchant(mall_a, name="A shop", cashier="a-cashier")
    shop_b = make_merchant(mall_b, name="B shop", cashier="b-cashier")
    with tenant_context(mall_a):
        member_token = issue_member_tokens(member=create_member(display_name="A")).access_token
    with tenant_context(mall_b):
        b_staff = StaffUser.objects.get(username="b-cashier")
        b_member = create_member(display_name="B")
        b_rule = EarningRule.objects.get(is_base=True)
        b_adjustment = request_adjustment(member=b_member, points=10**6, reason="b", actor="b")
        b_sale, b_receipt = sale_and_receipt(shop_b.merchant, b_member)
        b_job = start_import(
            kind="members", content=b"phone\n13800138000\n", filename="b.csv", created_by=b_staff
        )
        b_run = import_bill(
            channel="wechat", bill_date=b_sale.occurred_at.date(), content=render_wechat_bill([])
        ).run
        b_split_rule = create_rule(values={"name": "b", "kind": "commission", "rate": "0.1"})
        b_statement = issued_statement(shop_b.merchant)
    connection.set_schema_to_public()
    api_a = Api(host_of("mall-a"))
    return {
        "console": login(api_a, "console", "owner")["access_token"],
        "merchant": login(api_a, "merchant", "a-cashier")["access_token"],
        "member": member_token,
        "shop_a": shop_a,
        "b_ids": {
            "merchant_id": str(shop_b.merchant.pk),
            "staff_id": str(b_staff.pk),
            "key_id": shop_b.key_id,
            "member_id": str(b_member.pk),
            "rule_id": str(b_rule.pk),
            "adjustment_id": str(b_adjustment.pk),
            "external_id": b_sale.external_id,
            "sale_id": str(b_sale.pk),
            "receipt_id": str(b_receipt.pk),
            "job_id": str(b_job.pk),
            "run_id": str(b_run.pk),
            "split_rule_id": str(b_split_rule.pk),
            "statement_id": str(b_statement.pk),
        },
    }


def _call(world, surface, host, method, path, template=""):
    body = BODIES.get((method, template), SAFE_BODY)
    if surface == "integration":
        shop = world["shop_a"]
        raw = json.dumps(body).encode() if method != "GET" else b""
        return Api(host).request(
            method,
            path,
            body if method != "GET" else None,
            headers=signed_headers(shop.key_id, shop.secret, method, path, body=raw),
        )
    return Api(host, world[surface]).request(method, path, body if method != "GET" else None)


def _fill(path, ids):
    def value(match):
        name = match.group(1)
        if name not in ids:
            pytest.fail(f"isolation suite does not know path parameter {name!r}; add it to B_IDS")
        return ids[name]

    return re.sub(r"\{(\w+)\}", value, path)


def _b_counts(mall_b):
    with tenant_context(mall_b):
        counts = (
            Merchant.objects.count(),
            StaffUser.objects.count(),
            *sales_counts(),
            *statement_states(),
            Contract.objects.count(),
            SplitRule.objects.count(),
            SplitRule.objects.filter(status="published").count(),
        )
    connection.set_schema_to_public()
    return counts


def test_every_operation_is_authenticated_or_explicitly_public():
    for param in ALL_OPERATIONS:
        _, path, method, secured = param.values
        assert secured or (method, path) in PUBLIC, f"{method} {path} has no auth"


@pytest.mark.parametrize(("surface", "path", "method", "secured"), SECURED)
def test_credentials_of_mall_a_are_refused_at_mall_b(world, mall_b, surface, path, method, secured):
    before = _b_counts(mall_b)
    response = _call(world, surface, host_of("mall-b"), method, _fill(path, RANDOM_IDS))
    assert response.status_code == 401, (method, path, response.content)
    assert response.json()["code"].startswith("auth.")
    assert _b_counts(mall_b) == before


@pytest.mark.parametrize(("surface", "path", "method", "secured"), SECURED_WITH_IDS)
def test_ids_of_mall_b_are_not_found_at_mall_a(world, mall_b, surface, path, method, secured):
    before = _b_counts(mall_b)
    response = _call(
        world, surface, host_of("mall-a"), method, _fill(path, world["b_ids"]), template=path
    )
    assert response.status_code == 404, (method, path, response.content)
    assert _b_counts(mall_b) == before


@pytest.mark.parametrize("surface", ["console", "merchant", "member"])
def test_tenant_tokens_are_refused_by_the_provider_api(world, surface):
    for path, method, secured in _operations(provider_api, "/api/provider/v1"):
        if not secured:
            continue
        response = Api(BASE, world[surface]).request(
            method,
            _fill(path, {"tenant_id": "1", "export_id": str(uuid.uuid4())}),
            SAFE_BODY if method != "GET" else None,
        )
        assert response.status_code == 401, (method, path)


def test_provider_token_is_refused_by_tenant_surfaces(provider_api, world):
    for surface in ("console", "merchant", "member"):
        response = Api(host_of("mall-a"), provider_api.token).get(f"/api/{surface}/v1/me")
        assert response.status_code == 401
