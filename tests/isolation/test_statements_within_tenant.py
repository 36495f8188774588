"""Isolation inside one mall for statements: every merchant-portal operation that takes a
`statement_id` (reads, confirm, dispute and every export) answers 404 for another merchant's
statement, and nothing changes. Read from OpenAPI, so a new operation joins by existing."""

import re

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from atrium.api import merchant_api
from tests.conftest import Api, host_of, login
from tests.isolation.statements_world import issued_statement, statement_states

BODIES = {("POST", "/api/merchant/v1/statements/{statement_id}/dispute"): {"reason": "x"}}


def _operations():
    schema = merchant_api.get_openapi_schema(path_prefix="/api/merchant/v1")
    for path, methods in schema["paths"].items():
        if "{statement_id}" in path:
            for method in methods:
                yield pytest.param(path, method.upper(), id=f"{method.upper()} {path}")


OPERATIONS = list(_operations())


@pytest.fixture
def mall(mall_a, make_merchant):
    make_merchant(mall_a, name="A shop", cashier="a-cashier")
    shop_b = make_merchant(mall_a, name="B shop", cashier="b-cashier")
    with tenant_context(mall_a):
        statement_b = issued_statement(shop_b.merchant)
    connection.set_schema_to_public()
    token = login(Api(host_of("mall-a")), "merchant", "a-cashier")["access_token"]
    return {"tenant": mall_a, "token": token, "statement_id": str(statement_b.pk)}


def _states(tenant):
    with tenant_context(tenant):
        states = statement_states()
    connection.set_schema_to_public()
    return states


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_another_merchants_statement_is_not_found(mall, path, method):
    before = _states(mall["tenant"])
    filled = re.sub(r"\{statement_id\}", mall["statement_id"], path)
    body = BODIES.get((method, path), {}) if method != "GET" else None
    response = Api(host_of("mall-a"), mall["token"]).request(method, filled, body)
    assert (response.status_code, response.json()["code"]) == (
        404, "settlement.statement_not_found",
    ), (method, path, response.content)  # fmt: skip
    assert _states(mall["tenant"]) == before


def test_another_merchants_statements_are_not_listed(mall):
    response = Api(host_of("mall-a"), mall["token"]).get("/api/merchant/v1/statements")
    assert (response.status_code, response.json()["items"], response.json()["count"]) == (
        200,
        [],
        0,
    )


def test_the_suite_sees_every_statement_operation():
    assert sorted((p.values[1], p.values[0]) for p in OPERATIONS) == [
        ("GET", "/api/merchant/v1/statements/{statement_id}"),
        ("GET", "/api/merchant/v1/statements/{statement_id}/export.csv"),
        ("GET", "/api/merchant/v1/statements/{statement_id}/export.pdf"),
        ("GET", "/api/merchant/v1/statements/{statement_id}/export.xlsx"),
        ("POST", "/api/merchant/v1/statements/{statement_id}/confirm"),
        ("POST", "/api/merchant/v1/statements/{statement_id}/dispute"),
    ]
