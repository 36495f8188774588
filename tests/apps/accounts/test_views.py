"""Sign-in to the console and the merchant portal with sessions: who is let in, who is refused."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.models import StaffUser
from apps.accounts.services import invite_staff
from tests.conftest import PASSWORD, host_of
from tests.web import Browser, text


@pytest.fixture
def browser_a(mall_a):
    return Browser(host_of("mall-a"))


@pytest.fixture
def browser_b(mall_b):
    return Browser(host_of("mall-b"))


def _invite(tenant, username, role, *, merchant=None, password=PASSWORD):
    with tenant_context(tenant):
        staff = invite_staff(username=username, role=role, merchant=merchant, password=password)
    connection.set_schema_to_public()
    return staff


@pytest.mark.parametrize(
    "path",
    [
        "/console/",
        "/console/staff/",
        "/console/merchants/",
        "/console/program/",
        f"/console/merchants/{'0' * 8}-0000-0000-0000-{'0' * 12}/",
    ],
)
def test_anonymous_visitors_are_sent_to_the_console_login(browser_a, path):
    response = browser_a.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/console/login/?next={path}"


def test_anonymous_merchant_portal_visitors_are_sent_to_its_login(browser_a):
    response = browser_a.get("/merchant/")

    assert (response.status_code, response["Location"]) == (302, "/merchant/login/?next=/merchant/")


def test_owner_signs_in_and_lands_on_the_dashboard(browser_a):
    response = browser_a.sign_in("console", "owner")

    assert (response.status_code, response["Location"]) == (302, "/console/")
    home = browser_a.get("/console/")
    assert home.status_code == 200
    assert "Mall A" in text(home)
    assert "所有者" in text(home)


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(browser_a):
    asked = browser_a.post(
        "/console/login/?next=/console/program/",
        {"username": "owner", "password": PASSWORD, "next": "/console/program/"},
    )
    assert asked["Location"] == "/console/program/"

    other = Browser(host_of("mall-a"))
    off_site = other.post(
        "/console/login/",
        {"username": "owner", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert off_site["Location"] == "/console/"


def test_sign_in_rotates_the_session_key(browser_a):
    browser_a.get("/console/login/")
    browser_a.client.session.save()
    before = browser_a.client.session.session_key

    browser_a.sign_in("console", "owner")

    assert browser_a.session_cookie != before


@pytest.mark.parametrize(
    ("username", "password"), [("owner", "wrong-password"), ("nobody", PASSWORD)]
)
def test_bad_credentials_are_refused_with_a_message(browser_a, username, password):
    response = browser_a.sign_in("console", username, password)

    assert response.status_code == 400
    assert "用户名或密码错误。" in text(response)
    assert browser_a.get("/console/").status_code == 302


def test_console_login_is_throttled_like_the_api(browser_a):
    for _ in range(5):
        browser_a.sign_in("console", "owner", "nope")

    response = browser_a.sign_in("console", "owner")

    assert response.status_code == 400
    assert "登录失败次数过多，请稍后再试。" in text(response)


def test_inactive_staff_cannot_sign_in(browser_a, mall_a):
    with tenant_context(mall_a):
        StaffUser.objects.filter(username="owner").update(is_active=False)
    connection.set_schema_to_public()

    assert browser_a.sign_in("console", "owner").status_code == 400


def test_merchant_staff_are_refused_on_the_console(browser_a, mall_a, make_merchant):
    make_merchant(mall_a, cashier="till-1")

    response = browser_a.sign_in("console", "till-1")

    assert response.status_code == 400
    assert "用户名或密码错误。" in text(response)


def test_mall_staff_are_refused_on_the_merchant_portal(browser_a):
    response = browser_a.sign_in("merchant", "owner")

    assert response.status_code == 400
    assert browser_a.get("/merchant/").status_code == 302


def test_a_console_session_does_not_open_the_merchant_portal(browser_a):
    browser_a.sign_in("console", "owner")

    response = browser_a.get("/merchant/")

    assert (response.status_code, response["Location"]) == (302, "/merchant/login/?next=/merchant/")


def test_a_session_of_mall_a_is_refused_on_mall_b(browser_a, browser_b, mall_a, mall_b):
    browser_a.sign_in("console", "owner")
    assert browser_a.get("/console/").status_code == 200
    # The worst case: mall B holds an account with the very id the session names.
    with tenant_context(mall_a):
        owner_a = StaffUser.objects.get(username="owner")
    with tenant_context(mall_b):
        StaffUser.objects.create(
            id=owner_a.pk, username="twin", role=StaffRole.OWNER, password=owner_a.password
        )
    connection.set_schema_to_public()

    browser_b.client.cookies["sessionid"] = browser_a.session_cookie
    response = browser_b.get("/console/")

    assert (response.status_code, response["Location"]) == (302, "/console/login/?next=/console/")


def test_a_deactivated_account_loses_its_session(browser_a, mall_a):
    _invite(mall_a, "helper", StaffRole.ADMIN)
    browser_a.sign_in("console", "helper")
    assert browser_a.get("/console/").status_code == 200

    with tenant_context(mall_a):
        StaffUser.objects.filter(username="helper").update(is_active=False)
    connection.set_schema_to_public()

    assert browser_a.get("/console/").status_code == 302


def test_logout_ends_the_console_session(browser_a):
    browser_a.sign_in("console", "owner")

    response = browser_a.post("/console/logout/")

    assert (response.status_code, response["Location"]) == (302, "/console/login/")
    assert browser_a.get("/console/").status_code == 302


def test_logout_is_post_only(browser_a):
    browser_a.sign_in("console", "owner")

    assert browser_a.get("/console/logout/").status_code == 405
    assert browser_a.get("/console/").status_code == 200


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        (StaffRole.MARKETING, "/console/staff/", 403),
        (StaffRole.FINANCE, "/console/staff/", 403),
        (StaffRole.CUSTOMER_SERVICE, "/console/staff/", 403),
        (StaffRole.ADMIN, "/console/staff/", 200),
        (StaffRole.MARKETING, "/console/merchants/", 200),
        (StaffRole.MARKETING, "/console/program/", 200),
        (StaffRole.FINANCE, "/console/", 200),
    ],
)
def test_pages_follow_the_permission_matrix(browser_a, mall_a, role, path, status):
    _invite(mall_a, "someone", role)
    browser_a.sign_in("console", "someone")

    response = browser_a.get(path)

    assert response.status_code == status
    if status == 403:
        assert "你的角色无权访问此页面。" in text(response)


def test_wrong_role_cannot_invite_staff(browser_a, mall_a):
    _invite(mall_a, "marketer", StaffRole.MARKETING)
    browser_a.sign_in("console", "marketer")

    response = browser_a.post(
        "/console/staff/", {"username": "intruder", "role": StaffRole.ADMIN, "merchant": ""}
    )

    assert response.status_code == 403
    with tenant_context(mall_a):
        assert not StaffUser.objects.filter(username="intruder").exists()


def test_an_admin_cannot_touch_an_owner(browser_a, mall_a):
    _invite(mall_a, "admin-1", StaffRole.ADMIN)
    with tenant_context(mall_a):
        owner = StaffUser.objects.get(username="owner")
    connection.set_schema_to_public()
    browser_a.sign_in("console", "admin-1")

    demoted = browser_a.post(f"/console/staff/{owner.pk}/role/", {"role": StaffRole.FINANCE})
    deactivated = browser_a.post(f"/console/staff/{owner.pk}/deactivate/")
    promoted = browser_a.post(
        "/console/staff/", {"username": "new-owner", "role": StaffRole.OWNER, "merchant": ""}
    )

    assert (demoted.status_code, deactivated.status_code) == (403, 403)
    assert promoted.status_code == 400  # the owner role is not even offered to an admin
    with tenant_context(mall_a):
        owner.refresh_from_db()
        assert (owner.role, owner.is_active) == (StaffRole.OWNER, True)
        assert not StaffUser.objects.filter(username="new-owner").exists()


# --- invitations ---------------------------------------------------------------------------


def _pending(tenant, username, role=StaffRole.ADMIN, merchant=None):
    with tenant_context(tenant):
        invitation = invite_staff(username=username, role=role, merchant=merchant)
    connection.set_schema_to_public()
    return invitation


def test_invitation_page_names_the_account(browser_a, mall_a):
    invitation = _pending(mall_a, "newbie")

    response = browser_a.get(f"/console/invitation/{invitation.token}")

    assert response.status_code == 200
    assert "为账号 newbie（管理员）设置密码" in text(response)


def test_accepting_an_invitation_signs_the_person_in(browser_a, mall_a):
    invitation = _pending(mall_a, "newbie")

    response = browser_a.post(
        f"/console/invitation/{invitation.token}",
        {"password": "a-fine-new-password-9", "password_confirm": "a-fine-new-password-9"},
    )

    assert (response.status_code, response["Location"]) == (302, "/console/")
    assert browser_a.get("/console/staff/").status_code == 200
    again = Browser(host_of("mall-a")).get(f"/console/invitation/{invitation.token}")
    assert again.status_code == 404
    assert "邀请链接无效或已过期" in text(again)


def test_a_merchant_invitation_lands_in_the_merchant_portal(browser_a, mall_a, make_merchant):
    shop = make_merchant(mall_a)
    invitation = _pending(mall_a, "till-2", StaffRole.MERCHANT_CASHIER, merchant=shop.merchant)

    response = browser_a.post(
        f"/console/invitation/{invitation.token}",
        {"password": "a-fine-new-password-9", "password_confirm": "a-fine-new-password-9"},
    )

    assert (response.status_code, response["Location"]) == (302, "/merchant/")
    assert browser_a.get("/merchant/").status_code == 200
    assert browser_a.get("/console/").status_code == 302


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("a-fine-new-password-9", "something-else-1", "两次输入的密码不一致。"),
        ("12345678", "12345678", "密码强度不够。"),
    ],
)
def test_a_bad_password_keeps_the_invitation_open(browser_a, mall_a, password, confirm, message):
    invitation = _pending(mall_a, "newbie")

    response = browser_a.post(
        f"/console/invitation/{invitation.token}",
        {"password": password, "password_confirm": confirm},
    )

    assert response.status_code == 400
    assert message in text(response)
    assert browser_a.get(f"/console/invitation/{invitation.token}").status_code == 200


def test_an_expired_invitation_is_refused(browser_a, mall_a):
    invitation = _pending(mall_a, "late")
    with tenant_context(mall_a):
        StaffUser.objects.filter(pk=invitation.staff.pk).update(
            invitation_expires_at=timezone.now() - dt.timedelta(seconds=1)
        )
    connection.set_schema_to_public()

    response = browser_a.post(
        f"/console/invitation/{invitation.token}",
        {"password": "a-fine-new-password-9", "password_confirm": "a-fine-new-password-9"},
    )

    assert response.status_code == 404


def test_an_invitation_of_mall_a_does_not_work_on_mall_b(browser_b, mall_a):
    invitation = _pending(mall_a, "newbie")

    assert browser_b.get(f"/console/invitation/{invitation.token}").status_code == 404


def test_pages_need_csrf_tokens(mall_a):
    strict = Browser(host_of("mall-a"), enforce_csrf_checks=True)

    response = strict.post("/console/login/", {"username": "owner", "password": PASSWORD})

    assert response.status_code == 403
