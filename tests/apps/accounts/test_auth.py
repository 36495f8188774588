"""Every staff and member auth path: good, bad, expired, revoked and cross-tenant credentials."""

import datetime as dt
import time

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.core import signing
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.models import StaffUser
from apps.accounts.services import invite_staff
from atrium import tokens
from atrium.models import AuthSession
from tests.conftest import PASSWORD, Api, host_of, login


@pytest.fixture
def console(mall_a):
    return Api(host_of("mall-a"))


def test_passwords_are_hashed_with_argon2(mall_a):
    with tenant_context(mall_a):
        owner = StaffUser.objects.get(username="owner")
        assert identify_hasher(owner.password).algorithm == "argon2"


def test_login_returns_a_token_pair_that_opens_me(console):
    pair = login(console, "console", "owner")
    assert (pair["token_type"], pair["expires_in"]) == ("Bearer", 900)
    me = console.as_token(pair["access_token"]).get("/api/console/v1/me")
    assert me.status_code == 200
    assert "staff.manage" in me.json()["permissions"]


def test_username_is_case_insensitive(console):
    assert login(console, "console", "OWNER")["token_type"] == "Bearer"


@pytest.mark.parametrize(
    ("username", "password"), [("owner", "wrong-password"), ("nobody", PASSWORD), ("", "")]
)
def test_bad_credentials_are_401(console, username, password):
    response = console.post(
        "/api/console/v1/auth/login", {"username": username, "password": password}
    )
    assert (response.status_code, response.json()["code"]) == (401, "auth.invalid_credentials")


def test_login_is_throttled_after_five_failures(console):
    for _ in range(5):
        console.post("/api/console/v1/auth/login", {"username": "owner", "password": "nope"})
    response = console.post(
        "/api/console/v1/auth/login", {"username": "owner", "password": PASSWORD}
    )
    assert (response.status_code, response.json()["code"]) == (429, "auth.throttled")
    assert response.json()["extra"] == {"retry_after": 300}


def test_inactive_staff_cannot_log_in(console, mall_a):
    with tenant_context(mall_a):
        StaffUser.objects.filter(username="owner").update(is_active=False)
    connection.set_schema_to_public()
    response = console.post(
        "/api/console/v1/auth/login", {"username": "owner", "password": PASSWORD}
    )
    assert response.json()["code"] == "auth.invalid_credentials"


def test_merchant_staff_cannot_use_the_console_nor_mall_staff_the_portal(
    console, mall_a, make_merchant
):
    shop = make_merchant(mall_a, cashier="till-1")
    assert shop.cashier.username == "till-1"
    refused = console.post(
        "/api/console/v1/auth/login", {"username": "till-1", "password": PASSWORD}
    )
    assert refused.json()["code"] == "auth.invalid_credentials"
    refused = console.post(
        "/api/merchant/v1/auth/login", {"username": "owner", "password": PASSWORD}
    )
    assert refused.json()["code"] == "auth.invalid_credentials"
    pair = login(console, "merchant", "till-1")
    me = console.as_token(pair["access_token"]).get("/api/merchant/v1/me").json()
    assert (me["role"], me["merchant"]["name"]) == ("merchant_cashier", "Shop")
    console_me = console.as_token(pair["access_token"]).get("/api/console/v1/me")
    assert (console_me.status_code, console_me.json()["code"]) == (401, "auth.unauthenticated")


def test_expired_access_token_is_refused(console):
    pair = login(console, "console", "owner")
    with override_settings(ACCESS_TOKEN_TTL_SECONDS=-1):
        response = console.as_token(pair["access_token"]).get("/api/console/v1/me")
    assert (response.status_code, response.json()["code"]) == (401, "auth.unauthenticated")
    assert response.json()["extra"] == {"reason": "expired"}


def test_an_access_token_tells_when_it_expires(mall_a):
    """What a websocket opened with the token lives by; a token minted before expiries were
    written in it is taken to expire at most a TTL from when it is read."""
    with tenant_context(mall_a), override_settings(ACCESS_TOKEN_TTL_SECONDS=900):
        owner = StaffUser.objects.get(username="owner")
        minted = time.time()
        pair = tokens.issue_tokens(
            session_model=AuthSession, subject_kind="staff", subject_id=str(owner.pk)
        )
        issued = time.time()
        claims = tokens.read_access_token(pair.access_token)
        legacy = signing.dumps(
            {"s": mall_a.schema_name, "k": "staff", "u": str(owner.pk), "sid": "1"},
            salt=tokens.ACCESS_SALT,
            compress=True,
        )
        time.sleep(1.1)  # read a whole second after minting: its bound is the reading time
        read = time.time()
        old = tokens.read_access_token(legacy)
        done = time.time()
    assert int(minted) + 900 <= claims.expires_at <= issued + 900
    assert read + 900 <= old.expires_at <= done + 900


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "", "Bearer"])
def test_malformed_tokens_are_refused(console, token):
    response = console.as_token(token).get("/api/console/v1/me")
    assert (response.status_code, response.json()["code"]) == (401, "auth.unauthenticated")


def test_refresh_rotates_and_the_old_refresh_token_dies(console):
    pair = login(console, "console", "owner")
    fresh = console.post("/api/console/v1/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert fresh.status_code == 200
    assert fresh.json()["refresh_token"] != pair["refresh_token"]
    assert (
        console.as_token(fresh.json()["access_token"]).get("/api/console/v1/me").status_code == 200
    )
    reused = console.post("/api/console/v1/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert (reused.status_code, reused.json()["code"]) == (401, "auth.unauthenticated")


def test_expired_refresh_token_is_refused(console, mall_a):
    pair = login(console, "console", "owner")
    with tenant_context(mall_a):
        AuthSession.objects.update(refresh_expires_at=timezone.now() - dt.timedelta(seconds=1))
    connection.set_schema_to_public()
    response = console.post(
        "/api/console/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}
    )
    assert response.status_code == 401


def test_logout_revokes_access_and_refresh_tokens(console):
    pair = login(console, "console", "owner")
    api = console.as_token(pair["access_token"])
    assert api.post("/api/console/v1/auth/logout").status_code == 204
    me = api.get("/api/console/v1/me")
    assert (me.status_code, me.json()["extra"]) == (401, {"reason": "revoked"})
    refreshed = console.post(
        "/api/console/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 401


def test_deactivating_staff_ends_their_sessions(console_a, mall_a):
    with tenant_context(mall_a):
        invite_staff(username="temp", role=StaffRole.FINANCE, password=PASSWORD)
    connection.set_schema_to_public()
    temp = Api(host_of("mall-a"))
    temp = temp.as_token(login(temp, "console", "temp")["access_token"])
    staff_id = temp.get("/api/console/v1/me").json()["id"]
    assert console_a.delete(f"/api/console/v1/staff/{staff_id}").json()["is_active"] is False
    assert temp.get("/api/console/v1/me").status_code == 401


def test_a_staff_token_of_mall_a_is_refused_by_mall_b(console_a, mall_b):
    response = Api(host_of("mall-b"), console_a.token).get("/api/console/v1/me")
    assert (response.status_code, response.json()["extra"]) == (401, {"reason": "wrong_tenant"})


def test_a_refresh_token_of_mall_a_is_refused_by_mall_b(mall_a, mall_b):
    pair = login(Api(host_of("mall-a")), "console", "owner")
    response = Api(host_of("mall-b")).post(
        "/api/console/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}
    )
    assert response.status_code == 401


def test_invitation_expires(mall_a):
    with tenant_context(mall_a):
        invitation = invite_staff(username="late", role=StaffRole.MARKETING)
        StaffUser.objects.filter(pk=invitation.staff.pk).update(
            invitation_expires_at=timezone.now() - dt.timedelta(seconds=1)
        )
    connection.set_schema_to_public()
    response = Api(host_of("mall-a")).post(
        "/api/console/v1/auth/accept-invitation", {"token": invitation.token, "password": PASSWORD}
    )
    assert (response.status_code, response.json()["code"]) == (400, "auth.invitation_invalid")


def test_weak_password_on_invitation_is_refused_and_token_kept(mall_a):
    with tenant_context(mall_a):
        invitation = invite_staff(username="newbie", role=StaffRole.MARKETING)
    connection.set_schema_to_public()
    api = Api(host_of("mall-a"))
    weak = api.post(
        "/api/console/v1/auth/accept-invitation", {"token": invitation.token, "password": "123"}
    )
    assert (weak.status_code, weak.json()["code"]) == (400, "auth.weak_password")
    ok = api.post(
        "/api/console/v1/auth/accept-invitation", {"token": invitation.token, "password": PASSWORD}
    )
    assert ok.status_code == 200


def test_invitation_of_mall_a_does_not_work_on_mall_b(mall_a, mall_b):
    with tenant_context(mall_a):
        invitation = invite_staff(username="ann", role=StaffRole.MARKETING)
    connection.set_schema_to_public()
    response = Api(host_of("mall-b")).post(
        "/api/console/v1/auth/accept-invitation", {"token": invitation.token, "password": PASSWORD}
    )
    assert response.json()["code"] == "auth.invitation_invalid"
