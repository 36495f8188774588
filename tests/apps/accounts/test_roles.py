"""Roles decide what staff may do, in one permission matrix."""

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.models import StaffUser
from apps.accounts.permissions import GRANTS, Permission
from apps.accounts.services import invite_staff
from tests.conftest import PASSWORD, Api, host_of, login


def _as(mall, role, username):
    with tenant_context(mall):
        invite_staff(username=username, role=role, password=PASSWORD)
    connection.set_schema_to_public()
    api = Api(host_of(mall.slug))
    return api.as_token(login(api, "console", username)["access_token"])


@pytest.mark.parametrize(
    ("role", "can_manage_staff", "can_manage_merchants"),
    [
        (StaffRole.ADMIN, True, True),
        (StaffRole.MARKETING, False, False),
        (StaffRole.FINANCE, False, False),
        (StaffRole.CUSTOMER_SERVICE, False, False),
    ],
)
def test_roles_gate_staff_and_merchant_management(
    mall_a, role, can_manage_staff, can_manage_merchants
):
    api = _as(mall_a, role, f"user-{role}")
    staff = api.post("/api/console/v1/staff", {"username": f"made-by-{role}", "role": "finance"})
    merchant = api.post("/api/console/v1/merchants", {"name": f"by {role}"})
    assert (staff.status_code == 201, merchant.status_code == 201) == (
        can_manage_staff,
        can_manage_merchants,
    )
    if not can_manage_staff:
        assert staff.json() == {
            "code": "auth.forbidden",
            "message": "your role does not allow this",
            "extra": {"permission": "staff.manage", "role": str(role)},
        }
    assert api.get("/api/console/v1/merchants").status_code == 200


def test_me_lists_the_roles_permissions(mall_a):
    api = _as(mall_a, StaffRole.FINANCE, "fin")
    assert api.get("/api/console/v1/me").json()["permissions"] == sorted(
        str(p) for p, roles in GRANTS.items() if StaffRole.FINANCE in roles
    )


def test_only_an_owner_manages_owners(mall_a, console_a):
    admin = _as(mall_a, StaffRole.ADMIN, "adm")
    refused = admin.post("/api/console/v1/staff", {"username": "owner2", "role": "owner"})
    assert (refused.status_code, refused.json()["code"]) == (403, "auth.forbidden")
    with tenant_context(mall_a):
        owner_id = StaffUser.objects.get(username="owner").pk
    connection.set_schema_to_public()
    refused = admin.patch(f"/api/console/v1/staff/{owner_id}", {"role": "finance"})
    assert refused.status_code == 403
    created = console_a.post("/api/console/v1/staff", {"username": "owner2", "role": "owner"})
    assert created.status_code == 201


def test_the_last_owner_cannot_be_demoted_or_deactivated(mall_a, console_a):
    me = console_a.get("/api/console/v1/me").json()
    demoted = console_a.patch(f"/api/console/v1/staff/{me['id']}", {"role": "admin"})
    assert (demoted.status_code, demoted.json()["code"]) == (409, "staff.last_owner")
    gone = console_a.delete(f"/api/console/v1/staff/{me['id']}")
    assert gone.json()["code"] == "staff.last_owner"
    assert console_a.get("/api/console/v1/me").json()["role"] == "owner"


def test_staff_crud_with_invitation_link(console_a, mall_a, make_merchant):
    shop = make_merchant(mall_a, name="Cafe")
    created = console_a.post(
        "/api/console/v1/staff",
        {"username": "Barista", "role": "merchant_manager", "merchant_id": str(shop.merchant.pk)},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["username"], body["role"], body["merchant_id"]) == (
        "barista",
        "merchant_manager",
        str(shop.merchant.pk),
    )
    assert body["invitation_url"].startswith("http://mall-a.atrium.test/console/invitation/")
    fetched = console_a.get(f"/api/console/v1/staff/{body['id']}").json()
    assert fetched["email"] == ""
    patched = console_a.patch(f"/api/console/v1/staff/{body['id']}", {"display_name": "咖啡师"})
    assert patched.json()["display_name"] == "咖啡师"
    listed = console_a.get(f"/api/console/v1/staff?merchant_id={shop.merchant.pk}").json()
    assert sorted(s["username"] for s in listed["results"]) == ["barista", shop.cashier.username]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"username": "x1", "role": "merchant_cashier"}, "staff.role_not_allowed"),
        ({"username": "owner", "role": "finance"}, "staff.username_taken"),
    ],
)
def test_bad_staff_requests(console_a, body, code):
    before = console_a.get("/api/console/v1/staff").json()["results"]
    response = console_a.post("/api/console/v1/staff", body)
    assert response.json()["code"] == code
    assert console_a.get("/api/console/v1/staff").json()["results"] == before


def test_mall_role_on_merchant_account_is_refused(console_a, mall_a, make_merchant):
    shop = make_merchant(mall_a)
    response = console_a.post(
        "/api/console/v1/staff",
        {"username": "mixed", "role": "finance", "merchant_id": str(shop.merchant.pk)},
    )
    assert (response.status_code, response.json()["code"]) == (400, "staff.role_not_allowed")


def test_every_permission_is_granted_to_someone():
    assert set(GRANTS) == set(Permission)
    assert all(GRANTS[p] for p in Permission)
