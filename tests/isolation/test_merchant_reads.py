"""Isolation inside one mall for every merchant-portal read without an id: merchant B owns a
sale (with split lines), points it accepted as payment (clearing lines), a contract and an
issued statement; merchant A's manager calls every parameterless GET of the merchant API, read
from OpenAPI (so a new list joins by existing), and no answer carries anything of B's."""

import datetime as dt

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.services import invite_staff
from apps.loyalty.services.ledger import earn_points
from apps.members.services import create_member
from apps.sales.services import PaymentLine, record_sale
from atrium.api import merchant_api
from tests.apps.settlement.statement_helpers import contract
from tests.conftest import PASSWORD, Api, host_of, login
from tests.isolation.statements_world import issued_statement

# Values for the reads' required query parameters: a range wide enough to hold B's rows.
QUERY = {"start": "2026-01-01", "end": "2026-12-31"}


def _reads():
    schema = merchant_api.get_openapi_schema(path_prefix="/api/merchant/v1")
    for path, methods in schema["paths"].items():
        if "{" not in path and "get" in methods:
            required = [
                p["name"]
                for p in methods["get"].get("parameters", [])
                if p["in"] == "query" and p.get("required")
            ]
            query = "&".join(f"{name}={QUERY[name]}" for name in required)
            yield pytest.param(path, query, id=f"GET {path}")


READS = list(_reads())


@pytest.fixture
def mall(mall_a, make_merchant):
    shop_a = make_merchant(mall_a, name="A shop", cashier="a-cashier")
    shop_b = make_merchant(mall_a, name="Canary-B-shop", cashier="b-cashier")
    with tenant_context(mall_a):
        invite_staff(
            username="b-manager",
            role=StaffRole.MERCHANT_MANAGER,
            merchant=shop_b.merchant,
            password=PASSWORD,
        )
        invite_staff(
            username="a-manager",
            role=StaffRole.MERCHANT_MANAGER,
            merchant=shop_a.merchant,
            password=PASSWORD,
        )
        contract(shop_a.merchant, effective_from=dt.date(2026, 1, 1))
        statement = issued_statement(shop_b.merchant)
        member = create_member(display_name="canary")
        earn_points(member=member, points=500, idempotency_key="canary", pending_days=0)
        today_sale = record_sale(
            merchant=shop_b.merchant,
            member=member,
            external_id="CANARY-B-SALE",
            occurred_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
            total="25.00",
            payments=[PaymentLine("points", "5.00"), PaymentLine("alipay", "20.00")],
        ).sale
    connection.set_schema_to_public()
    token = login(Api(host_of("mall-a")), "merchant", "a-manager")["access_token"]
    own_token = login(Api(host_of("mall-a")), "merchant", "b-manager")["access_token"]
    canaries = {
        str(shop_b.merchant.pk),
        "Canary-B-shop",
        "CANARY-B-SALE",
        str(today_sale.pk),
        str(statement.pk),
        statement.number,
    }
    return {"token": token, "own_token": own_token, "canaries": canaries}


@pytest.mark.parametrize(("path", "query"), READS)
def test_no_merchant_read_shows_another_merchants_rows(mall, path, query):
    response = Api(host_of("mall-a"), mall["token"]).get(f"{path}?{query}" if query else path)
    assert response.status_code == 200, (path, response.content[:300])
    body = response.content.decode()
    leaked = sorted(canary for canary in mall["canaries"] if canary in body)
    assert leaked == [], (path, leaked)


def test_the_suite_sees_the_merchant_reads():
    paths = {param.values[0] for param in READS}
    assert {
        "/api/merchant/v1/split-lines",
        "/api/merchant/v1/statements",
        "/api/merchant/v1/clearing/lines",
        "/api/merchant/v1/clearing/position",
        "/api/merchant/v1/contract",
    } <= paths


def test_the_canaries_are_visible_to_their_own_merchant(mall):
    """The control: B's manager finds every one of B's canaries in the same reads, so the
    sweep above would see a leak."""
    api = Api(host_of("mall-a"), mall["own_token"])
    seen = set()
    for param in READS:
        path, query = param.values
        body = api.get(f"{path}?{query}" if query else path).content.decode()
        seen |= {canary for canary in mall["canaries"] if canary in body}
    assert seen == mall["canaries"]
