"""The merchants directory: business formats, merchant fields (contact phone encrypted and
masked), status, logo, search, and contract versions with their bad-input codes."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.services import invite_staff
from apps.merchants.models import Contract, Merchant
from apps.merchants.selectors import contract_in_force
from apps.merchants.services import create_contract, create_merchant
from tests.conftest import PASSWORD, Api, host_of, login

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_business_formats_are_seeded_and_editable(console_a):
    codes = [f["code"] for f in console_a.get("/api/console/v1/business-formats").json()]
    assert codes[:5] == ["retail", "fnb", "entertainment", "services", "supermarket"]
    created = console_a.post(
        "/api/console/v1/business-formats", {"code": "pets", "name": "宠物", "position": 50}
    )
    assert created.status_code == 201, created.content
    again = console_a.post("/api/console/v1/business-formats", {"code": "pets", "name": "x"})
    assert (again.status_code, again.json()["code"]) == (409, "merchant.business_format_exists")
    renamed = console_a.patch("/api/console/v1/business-formats/pets", {"name": "宠物用品"})
    assert renamed.json() == {"code": "pets", "name": "宠物用品", "position": 50, "is_active": True}
    missing = console_a.patch("/api/console/v1/business-formats/nope", {"name": "x"})
    assert (missing.status_code, missing.json()["code"]) == (
        404,
        "merchant.business_format_not_found",
    )


def test_a_merchant_keeps_its_contact_phone_encrypted_and_masked_for_finance(console_a, mall_a):
    response = console_a.post(
        "/api/console/v1/merchants",
        {
            "name": "海底捞",
            "business_format": "fnb",
            "brand": "Haidilao",
            "floor": "L5",
            "unit": "L5-01",
            "contact_name": "王经理",
            "contact_phone": "13812341234",
        },
        headers={"Idempotency-Key": "m-1"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["contact_phone"], body["personal_data_visible"], body["status"]) == (
        "13812341234",
        True,
        "active",
    )
    with tenant_context(mall_a):
        row = Merchant.objects.get(pk=body["id"])
        assert "13812341234" not in row.contact_phone_encrypted
        invite_staff(username="fin", role=StaffRole.FINANCE, password=PASSWORD)
    connection.set_schema_to_public()
    api = Api(host_of("mall-a"))
    finance = api.as_token(login(api, "console", "fin")["access_token"])
    seen = finance.get(f"/api/console/v1/merchants/{body['id']}").json()
    assert (seen["contact_phone"], seen["personal_data_visible"]) == ("138****1234", False)
    found = console_a.get("/api/console/v1/merchants?q=haidilao").json()["results"]
    assert [m["name"] for m in found] == ["海底捞"]


def test_status_changes_keep_is_active_in_step(console_a, mall_a):
    with tenant_context(mall_a):
        shop = create_merchant(name="Shop")
    connection.set_schema_to_public()
    response = console_a.patch(f"/api/console/v1/merchants/{shop.pk}", {"status": "suspended"})
    assert (response.json()["status"], response.json()["is_active"]) == ("suspended", False)
    bad = console_a.patch(f"/api/console/v1/merchants/{shop.pk}", {"business_format": "casino"})
    assert (bad.status_code, bad.json()["code"]) == (404, "merchant.business_format_not_found")
    phone = console_a.patch(f"/api/console/v1/merchants/{shop.pk}", {"contact_phone": "call me"})
    assert (phone.status_code, phone.json()["code"]) == (400, "merchant.invalid")


def test_a_logo_is_stored_privately_and_checked(console_a, mall_a):
    with tenant_context(mall_a):
        shop = create_merchant(name="Shop")
    connection.set_schema_to_public()
    client = console_a.client
    auth = {"HTTP_AUTHORIZATION": f"Bearer {console_a.token}"}
    url = f"/api/console/v1/merchants/{shop.pk}/logo"
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = client.post(url, {"file": SimpleUploadedFile("x.gif", b"GIF89a")}, **auth)
    assert (bad.status_code, bad.json()["code"]) == (400, "merchant.logo_invalid")
    good = client.post(url, {"file": SimpleUploadedFile("x.png", PNG)}, **auth)
    assert good.status_code == 200, good.content
    assert good.json()["has_logo"] is True
    served = client.get(url, **auth)
    assert (served.status_code, served["Content-Type"], b"".join(served.streaming_content)) == (
        200,
        "image/png",
        PNG,
    )
    connection.set_schema_to_public()


def test_contract_versions_supersede_and_the_payout_account_is_encrypted(console_a, mall_a):
    with tenant_context(mall_a):
        shop = create_merchant(name="Shop")
        first = create_contract(
            merchant=shop,
            kind="concession",
            commission_rate="0.1800",
            effective_from=dt.date(2026, 1, 1),
            today=dt.date(2026, 1, 1),
        )
    connection.set_schema_to_public()
    later = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    response = console_a.post(
        f"/api/console/v1/merchants/{shop.pk}/contracts",
        {
            "kind": "guaranteed_minimum",
            "commission_rate": "0.1500",
            "category_rates": {"cosmetics": "0.1200"},
            "minimum_amount": "30000.00",
            "cycle": "monthly",
            "payout_method": "alipay",
            "payout_account": "shop@example.com",
            "effective_from": later,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["payout_account"], body["category_rates"], body["minimum_amount"]) == (
        "************.com",
        {"cosmetics": "0.1200"},
        "30000.00",
    )
    with tenant_context(mall_a):
        row = Contract.objects.get(pk=body["id"])
        assert "shop@example.com" not in row.payout_account_encrypted
        assert contract_in_force(merchant=shop, day=timezone.localdate()) == first
        assert contract_in_force(merchant=shop, day=dt.date.fromisoformat(later)) == row
        assert contract_in_force(merchant=shop, day=dt.date(2025, 12, 31)) is None
    connection.set_schema_to_public()
    history = console_a.get(f"/api/console/v1/merchants/{shop.pk}/contracts").json()
    assert [c["kind"] for c in history] == ["guaranteed_minimum", "concession"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (
            {"kind": "concession", "effective_from": "2020-01-01"},
            409,
            "merchant.contract_backdated",
        ),
        ({"kind": "fixed_rent", "effective_from": "FUTURE"}, 400, "merchant.contract_invalid"),
        (
            {"kind": "guaranteed_minimum", "commission_rate": "0.1", "effective_from": "FUTURE"},
            400,
            "merchant.contract_invalid",
        ),
        (
            {"kind": "concession", "commission_rate": "1.2", "effective_from": "FUTURE"},
            422,
            "request.invalid",
        ),
        ({"kind": "lease", "effective_from": "FUTURE"}, 422, "request.invalid"),
        (
            {"kind": "concession", "rent_amount": "-1", "effective_from": "FUTURE"},
            422,
            "request.invalid",
        ),
    ],
)
def test_bad_contracts_are_refused_and_nothing_is_written(console_a, mall_a, body, status, code):
    with tenant_context(mall_a):
        shop = create_merchant(name="Shop")
    connection.set_schema_to_public()
    if body["effective_from"] == "FUTURE":
        body = {**body, "effective_from": (timezone.localdate() + dt.timedelta(days=1)).isoformat()}
    response = console_a.post(f"/api/console/v1/merchants/{shop.pk}/contracts", body)
    assert (response.status_code, response.json()["code"]) == (status, code), response.content
    with tenant_context(mall_a):
        assert Contract.objects.count() == 0
    connection.set_schema_to_public()
