"""The provider console on the bare domain: sign-in, tenant list, onboarding, lifecycle, usage,
exports."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import schema_exists, tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.models import StaffUser
from apps.accounts.services import invite_staff
from apps.members.models import Member
from tenants import services as tenant_services
from tenants.models import Tenant, TenantExport
from tests.conftest import BASE, PASSWORD, host_of
from tests.web import Browser, text


@pytest.fixture
def provider(provider_admin, two_malls):
    browser = Browser(BASE)
    assert browser.sign_in("provider", "root").status_code == 302
    return browser


@pytest.mark.parametrize("path", ["/", "/tenants/new/", "/tenants/1/"])
def test_anonymous_visitors_are_sent_to_the_login(db, path):
    response = Browser(BASE).get(path)

    assert (response.status_code, response["Location"]) == (302, f"/login/?next={path}")


def test_a_signed_in_user_who_is_not_a_provider_admin_gets_403(db):
    user = get_user_model().objects.create_user("clerk", "clerk@example.invalid", PASSWORD)
    browser = Browser(BASE)
    browser.client.force_login(user)

    response = browser.get("/")

    assert response.status_code == 403
    assert "只有平台管理员可以使用平台控制台。" in text(response)


def test_a_non_staff_user_cannot_sign_in(db):
    get_user_model().objects.create_user("clerk", "clerk@example.invalid", PASSWORD)

    response = Browser(BASE).sign_in("provider", "clerk")

    assert response.status_code == 400
    assert "用户名或密码错误。" in text(response)


def test_provider_login_is_throttled(provider_admin):
    browser = Browser(BASE)
    for _ in range(5):
        browser.sign_in("provider", "root", "nope")

    response = browser.sign_in("provider", "root")

    assert response.status_code == 400
    assert "登录失败次数过多，请稍后再试。" in text(response)


def test_the_provider_console_is_not_served_on_tenant_hosts(provider_admin, two_malls):
    browser = Browser(host_of("mall-a"))
    browser.client.force_login(provider_admin)

    assert browser.get("/tenants/new/").status_code == 404


def test_tenant_list_shows_every_tenant_with_a_console_link(provider):
    response = provider.get("/")

    assert response.status_code == 200
    body = text(response)
    for slug in ("mall-a", "mall-b"):
        assert f"<code>{slug}</code>" in body
        assert f'href="http://{slug}.{BASE}/console/"' in body
    assert "购物中心" in body
    assert "运营中" in body


def test_tenant_list_filters_by_status(provider, mall_b):
    tenant_services.suspend_tenant(tenant=mall_b)

    body = text(provider.get("/?status=suspended"))

    assert "<code>mall-b</code>" in body
    assert "<code>mall-a</code>" not in body


def test_onboarding_form_creates_the_tenant_and_shows_the_link_once(provider):
    response = provider.post(
        "/tenants/new/",
        {
            "name": "新天地 Xintiandi",
            "slug": "xintiandi",
            "kind": "commercial_street",
            "display_name": "新天地",
            "primary_color": "#0A7B83",
            "operator_username": "Boss",
            "operator_email": "boss@example.invalid",
        },
    )

    tenant = Tenant.objects.get(slug="xintiandi")
    assert (response.status_code, response["Location"]) == (302, f"/tenants/{tenant.pk}/")
    page = text(provider.get(response["Location"]))
    url = re.search(r'value="(http://xintiandi\.atrium\.test/console/invitation/[^"]+)"', page)
    assert url is not None
    assert "「新天地 Xintiandi」已入驻。" in page
    assert (tenant.kind, tenant.display_name, tenant.primary_color, tenant.status) == (
        "commercial_street",
        "新天地",
        "#0A7B83",
        "active",
    )
    assert schema_exists("t_xintiandi")
    with tenant_context(tenant):
        owner = StaffUser.objects.get()
        assert (owner.username, owner.role, owner.has_password) == ("boss", "owner", False)
    connection.set_schema_to_public()
    assert url.group(1) not in text(provider.get(f"/tenants/{tenant.pk}/"))
    # The link works: the owner sets a password on the new mall's host.
    token = url.group(1).rsplit("/", 1)[1]
    accepted = Browser("xintiandi.atrium.test").post(
        f"/console/invitation/{token}",
        {"password": "a-fine-new-password-9", "password_confirm": "a-fine-new-password-9"},
    )
    assert (accepted.status_code, accepted["Location"]) == (302, "/console/")


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("mall-a", "该标识已被使用。"),
        ("Bad_Slug", "标识须为 3–40 位小写字母、数字或单个连字符，且不能是保留词。"),
        ("admin", "标识须为 3–40 位小写字母、数字或单个连字符，且不能是保留词。"),
    ],
)
def test_onboarding_form_reports_bad_slugs(provider, slug, message):
    count = Tenant.objects.count()

    response = provider.post(
        "/tenants/new/",
        {
            "name": "Dup",
            "slug": slug,
            "kind": "mall",
            "primary_color": "#B8860B",
            "operator_username": "boss",
        },
    )

    assert response.status_code == 400
    assert message in text(response)
    assert Tenant.objects.count() == count


def test_suspend_resume_archive_from_the_detail_page(provider, mall_b):
    detail = f"/tenants/{mall_b.pk}/"

    suspended = provider.post(f"{detail}suspend/")
    assert (suspended.status_code, suspended["Location"]) == (302, detail)
    assert Tenant.objects.get(pk=mall_b.pk).status == "suspended"
    assert Browser(host_of("mall-b")).get("/console/login/").status_code == 403

    provider.post(f"{detail}resume/")
    assert Tenant.objects.get(pk=mall_b.pk).status == "active"
    assert Browser(host_of("mall-b")).get("/console/login/").status_code == 200

    provider.post(f"{detail}archive/")
    assert Tenant.objects.get(pk=mall_b.pk).status == "archived"
    assert "已归档" in text(provider.get(detail))


def test_lifecycle_buttons_are_post_only(provider, mall_b):
    assert provider.get(f"/tenants/{mall_b.pk}/suspend/").status_code == 405
    assert Tenant.objects.get(pk=mall_b.pk).status == "active"


def test_an_impossible_transition_is_reported(provider, mall_b):
    provider.post(f"/tenants/{mall_b.pk}/suspend/")
    provider.post(f"/tenants/{mall_b.pk}/archive/")

    response = provider.post(f"/tenants/{mall_b.pk}/suspend/", follow=True)

    assert "当前状态下不能执行此操作。" in text(response)
    assert Tenant.objects.get(pk=mall_b.pk).status == "archived"


def test_usage_panel_counts_inside_the_tenant_schema(provider, mall_a, make_merchant):
    make_merchant(mall_a, cashier="till-1")
    make_merchant(mall_a, name="Second", cashier="till-2")
    with tenant_context(mall_a):
        invite_staff(username="marketer", role=StaffRole.MARKETING)
        Member.objects.create(member_no="M0001")
        Member.objects.create(member_no="M0002", is_active=False)
    connection.set_schema_to_public()

    body = text(provider.get(f"/tenants/{mall_a.pk}/"))

    counts = dict(re.findall(r'data-testid="usage-([a-z-]+)">(\d+)<', body))
    assert counts == {"merchants": "2", "mall-staff": "2", "merchant-staff": "2", "members": "1"}


def test_unknown_tenant_is_404(provider):
    assert provider.get("/tenants/999999/").status_code == 404


def test_branding_form_updates_the_member_app_theme(provider, mall_b):
    response = provider.post(
        f"/tenants/{mall_b.pk}/branding/",
        {
            "display_name": "B 广场",
            "logo_url": "https://cdn.example.invalid/logo.png",
            "primary_color": "#123456",
        },
    )

    assert response.status_code == 302
    tenant = Tenant.objects.get(pk=mall_b.pk)
    assert (tenant.display_name, tenant.logo_url, tenant.primary_color) == (
        "B 广场",
        "https://cdn.example.invalid/logo.png",
        "#123456",
    )


def test_branding_form_refuses_a_bad_colour(provider, mall_b):
    response = provider.post(
        f"/tenants/{mall_b.pk}/branding/", {"display_name": "x", "primary_color": "red"}
    )

    assert response.status_code == 400
    assert Tenant.objects.get(pk=mall_b.pk).primary_color == "#B8860B"


def test_export_is_listed_and_downloadable_by_provider_admins_only(provider, mall_a):
    response = provider.post(f"/tenants/{mall_a.pk}/export/", follow=True)

    export = TenantExport.objects.get(tenant=mall_a)
    assert export.status == "ready"
    download = f"/tenants/{mall_a.pk}/exports/{export.pk}/download/"
    assert f'href="{download}"' in text(response)
    try:
        archive = provider.get(download)
        assert archive.status_code == 200
        assert archive["Content-Disposition"] == f'attachment; filename="{export.file_name}"'
        assert b"".join(archive.streaming_content)[:5] == b"PGDMP"

        anonymous = Browser(BASE).get(download)
        assert (anonymous.status_code, anonymous["Location"]) == (
            302,
            f"/login/?next={download}",
        )
        other_tenant = provider.get(f"/tenants/{mall_a.pk + 1}/exports/{export.pk}/download/")
        assert other_tenant.status_code == 404
    finally:
        tenant_services.export_path(export).unlink(missing_ok=True)


def test_logout_ends_the_provider_session(provider):
    assert provider.post("/logout/").status_code == 302
    assert provider.get("/").status_code == 302


def test_english_is_one_click_away(provider):
    response = provider.post("/i18n/setlang/", {"language": "en", "next": "/"})

    assert (response.status_code, response["Location"]) == (302, "/")
    assert provider.client.cookies["django_language"].value == "en"
