"""The clearing APIs through the tenant host: console settings, liability and positions; the
merchant portal's own position and lines; points payments at the till with their error codes."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.clearing.models import ClearingLine, FundingPolicy
from apps.clearing.services import set_funding_policy
from apps.loyalty.services import ledger
from apps.members.services import create_member
from apps.sales.models import Sale
from tests.conftest import Api, host_of, login

HOST = host_of("mall-a")


@pytest.fixture
def till(mall_a, make_merchant):
    """Shops X (issuer) and Y (acceptor, with a cashier), and a member holding 500 of X's points
    (50/50 policy) and 300 of the mall's."""
    shop_x = make_merchant(mall_a, name="X shop", cashier="x-cashier")
    shop_y = make_merchant(mall_a, name="Y shop", cashier="y-cashier")
    with tenant_context(mall_a):
        now = timezone.now()
        set_funding_policy(
            source="shared", merchant_share=Decimal("0.5"), now=now - dt.timedelta(30)
        )
        member = create_member(display_name="Payer")
        ledger.earn_points(
            member=member, points=500, idempotency_key="x", issuer_merchant_id=shop_x.merchant.pk,
            source_type="sale", source_id="x", now=now - dt.timedelta(days=3), pending_days=0,
        )  # fmt: skip
        ledger.adjust_points(member=member, points=300, reason="g", idempotency_key="m", actor="o")
        member_no = member.member_no
    connection.set_schema_to_public()
    api = Api(HOST)
    return {
        "tenant": mall_a,
        "x": shop_x,
        "y": shop_y,
        "member_no": member_no,
        "y_api": api.as_token(login(api, "merchant", "y-cashier")["access_token"]),
        "x_api": api.as_token(login(api, "merchant", "x-cashier")["access_token"]),
    }


def _pay(till, external_id, points, total="20.00"):
    payments = [{"method": "points", "amount": points}]
    if Decimal(total) > Decimal(points):
        payments.append({"method": "cash", "amount": str(Decimal(total) - Decimal(points))})
    return till["y_api"].post(
        "/api/merchant/v1/sales",
        {"external_id": external_id, "total": total, "payments": payments,
         "member": {"member_no": till["member_no"]}},
    )  # fmt: skip


def _written(tenant):
    with tenant_context(tenant):
        counts = (Sale.objects.count(), ClearingLine.objects.count())
    connection.set_schema_to_public()
    return counts


def test_a_points_payment_at_the_till_clears_and_each_merchant_sees_its_own(till):
    assert _pay(till, "T-1", "6.00").status_code == 201
    today = timezone.localdate().isoformat()
    y = till["y_api"].get(f"/api/merchant/v1/clearing/position?start={today}&end={today}").json()
    assert (y["points_accepted"], y["accepted_amount"], y["net_amount"]) == (600, "6.00", "6.00")
    x = till["x_api"].get(f"/api/merchant/v1/clearing/position?start={today}&end={today}").json()
    assert (x["points_funded"], x["funded_amount"], x["net_amount"]) == (250, "-2.50", "-2.50")
    y_lines = till["y_api"].get("/api/merchant/v1/clearing/lines").json()["results"]
    x_lines = till["x_api"].get("/api/merchant/v1/clearing/lines").json()["results"]
    assert sorted((r["role"], r["points"], r["amount"]) for r in y_lines) == [
        ("acceptor", 100, "1.00"),
        ("acceptor", 500, "5.00"),
    ]
    assert [(r["role"], r["points"], r["amount"]) for r in x_lines] == [("funder", -250, "-2.50")]


@pytest.mark.parametrize(
    ("points", "total", "status", "code"),
    [
        ("9.00", "9.00", 409, "loyalty.insufficient_points"),
        ("0.50", "20.00", 201, None),
    ],
)
def test_points_payment_outcomes(till, points, total, status, code):
    response = _pay(till, "T-2", points, total)
    assert response.status_code == status, response.content
    if code:
        assert response.json()["code"] == code
        assert _written(till["tenant"]) == (0, 0)
    else:
        assert _written(till["tenant"]) == (1, 3)  # X's lot: acceptor, X and the mall as funders


def test_points_not_whole_and_member_required_codes(till, console_a):
    put = console_a.put(
        "/api/console/v1/clearing/settings",
        {"point_value": "0.0300", "funding_source": "mall"},
    )
    assert put.status_code == 200, put.content
    response = _pay(till, "T-3", "1.00")
    assert (response.status_code, response.json()["code"]) == (400, "clearing.points_not_whole")
    anonymous = till["y_api"].post(
        "/api/merchant/v1/sales",
        {
            "external_id": "T-4",
            "total": "0.99",
            "payments": [{"method": "points", "amount": "0.99"}],
        },
    )
    assert (anonymous.status_code, anonymous.json()["code"]) == (400, "clearing.member_required")
    assert _written(till["tenant"]) == (0, 0)


def test_console_settings_liability_and_positions(till, console_a):
    settings = console_a.get("/api/console/v1/clearing/settings").json()
    assert settings["point_value"] == "0.0100"
    assert (settings["funding_source"], settings["merchant_share"]) == ("shared", "0.5000")
    liability = console_a.get("/api/console/v1/clearing/liability").json()
    assert (liability["points"], liability["amount"]) == (800, "8.00")
    assert [(r["funder_name"], r["points"], r["amount"]) for r in liability["rows"]] == [
        ("", 550, "5.50"),
        ("X shop", 250, "2.50"),
    ]
    _pay(till, "T-5", "6.00")
    today = timezone.localdate()
    week = f"start={today - dt.timedelta(days=7)}&end={today}"
    rows = console_a.get(f"/api/console/v1/clearing/positions?{week}").json()
    assert [(r["merchant_name"], r["points_issued"], r["net_amount"]) for r in rows] == [
        ("X shop", 500, "-2.50"),
        ("Y shop", 14, "6.00"),
    ]
    put = console_a.put(
        "/api/console/v1/clearing/settings",
        {"funding_source": "shared", "merchant_share": "0.2500"},
    )
    assert (put.json()["funding_source"], put.json()["merchant_share"]) == ("shared", "0.2500")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"funding_source": "shared"}, "clearing.policy_invalid"),
        ({"funding_source": "shared", "merchant_share": "1"}, "clearing.policy_invalid"),
        ({"funding_source": "mall", "point_value": "0.00001"}, "clearing.policy_invalid"),
        ({"funding_source": "bank"}, "request.invalid"),
        ({"funding_source": "mall", "point_value": "-1"}, "request.invalid"),
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(till, console_a, body, code):
    with tenant_context(till["tenant"]):
        before = FundingPolicy.objects.count()
    connection.set_schema_to_public()
    response = console_a.put("/api/console/v1/clearing/settings", body)
    status = 422 if code == "request.invalid" else 400
    assert (response.status_code, response.json()["code"]) == (status, code), response.content
    with tenant_context(till["tenant"]):
        assert FundingPolicy.objects.count() == before
    connection.set_schema_to_public()


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("start=2026-02-01&end=2026-01-01", 400, "clearing.date_range_invalid"),
        ("start=2024-01-01&end=2026-01-01", 400, "clearing.date_range_invalid"),
        ("start=x&end=y", 422, "request.invalid"),
        ("", 422, "request.invalid"),
    ],
)
def test_bad_date_ranges_are_refused(till, query, status, code):
    response = till["y_api"].get(f"/api/merchant/v1/clearing/position?{query}")
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_a_cashier_cannot_use_the_console_clearing_api(till):
    response = till["y_api"].get("/api/console/v1/clearing/liability")
    assert response.status_code == 401
