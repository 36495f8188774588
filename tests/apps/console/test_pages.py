"""The tenant console's pages, the merchant portal and the member app, through the Django client."""

import json
import re

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.models import StaffUser
from apps.accounts.services import invite_staff
from apps.merchants.models import ApiKey, Merchant
from atrium.crypto import decrypt
from tenants import services as tenant_services
from tenants.models import Tenant
from tests.conftest import PASSWORD, host_of
from tests.web import Browser, text


@pytest.fixture
def owner(mall_a):
    browser = Browser(host_of("mall-a"))
    assert browser.sign_in("console", "owner").status_code == 302
    return browser


def _staff(tenant, **filters):
    with tenant_context(tenant):
        found = StaffUser.objects.select_related("merchant").get(**filters)
    connection.set_schema_to_public()
    return found


# --- dashboard and program -----------------------------------------------------------------


def test_dashboard_shows_real_counts_and_the_program(owner, mall_a, make_merchant):
    make_merchant(mall_a, cashier="till-1")

    body = text(owner.get("/console/"))

    assert re.search(r'data-testid="count-merchants">1<', body)
    assert re.search(r'data-testid="count-mall-staff">1<', body)
    assert "每消费 ¥1 积 1 分" in body
    assert "普卡" in body


def test_program_page_lists_the_seeded_tiers_and_base_rule(owner):
    body = text(owner.get("/console/program/"))

    rows = re.findall(
        r'<span class="primary">([^<]+)</span></td>\s*<td class="right num">([\d,]+)</td>\s*<td class="right num">×([\d.]+)</td>',
        body,
    )
    assert rows == [
        ("普卡", "0", "1"),
        ("银卡", "2000", "1.2"),
        ("金卡", "10000", "1.5"),
        ("钻石卡", "50000", "2"),
    ]
    assert "基础积分" in body
    assert "贵宾休息室" in body


# --- staff and roles -----------------------------------------------------------------------


def test_staff_page_lists_accounts_with_their_state(owner, mall_a):
    with tenant_context(mall_a):
        invite_staff(username="pending", role=StaffRole.FINANCE)
    connection.set_schema_to_public()

    body = text(owner.get("/console/staff/"))

    assert "pending" in body
    assert "待接受邀请" in body
    assert "在职" in body


def test_inviting_staff_shows_the_link_once(owner, mall_a):
    response = owner.post(
        "/console/staff/",
        {"username": "Lin", "display_name": "小林", "role": StaffRole.MARKETING, "merchant": ""},
    )

    assert (response.status_code, response["Location"]) == (302, "/console/staff/")
    page = text(owner.get("/console/staff/"))
    match = re.search(r'value="(http://mall-a\.atrium\.test/console/invitation/[^"]+)"', page)
    assert match is not None
    invited = _staff(mall_a, username="lin")
    assert (invited.role, invited.display_name, invited.has_password) == (
        "marketing",
        "小林",
        False,
    )
    assert match.group(1) not in text(owner.get("/console/staff/"))


def test_inviting_merchant_staff_ties_them_to_the_merchant(owner, mall_a, make_merchant):
    shop = make_merchant(mall_a)

    response = owner.post(
        "/console/staff/",
        {
            "username": "till-9",
            "role": StaffRole.MERCHANT_CASHIER,
            "merchant": str(shop.merchant.pk),
        },
    )

    assert response.status_code == 302
    assert _staff(mall_a, username="till-9").merchant.pk == shop.merchant.pk


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"username": "owner", "role": StaffRole.ADMIN}, "该用户名已被使用。"),
        ({"username": "till-x", "role": StaffRole.MERCHANT_CASHIER}, "角色与账号类型不符"),
    ],
)
def test_inviting_reports_refusals(owner, form, message):
    response = owner.post("/console/staff/", {"merchant": "", **form})

    assert response.status_code == 400
    assert message in text(response)


def test_changing_a_role(owner, mall_a):
    with tenant_context(mall_a):
        helper = invite_staff(username="helper", role=StaffRole.FINANCE, password=PASSWORD).staff
    connection.set_schema_to_public()

    response = owner.post(
        f"/console/staff/{helper.pk}/role/", {"role": StaffRole.ADMIN}, follow=True
    )

    assert "的角色已改为「管理员」。" in text(response)
    assert _staff(mall_a, pk=helper.pk).role == "admin"


def test_a_mall_account_cannot_get_a_merchant_role(owner, mall_a):
    with tenant_context(mall_a):
        helper = invite_staff(username="helper", role=StaffRole.FINANCE).staff
    connection.set_schema_to_public()

    response = owner.post(
        f"/console/staff/{helper.pk}/role/", {"role": StaffRole.MERCHANT_CASHIER}, follow=True
    )

    assert "角色与账号类型不符" in text(response)
    assert _staff(mall_a, pk=helper.pk).role == "finance"


def test_deactivating_an_account(owner, mall_a):
    with tenant_context(mall_a):
        helper = invite_staff(username="helper", role=StaffRole.FINANCE).staff
    connection.set_schema_to_public()

    response = owner.post(f"/console/staff/{helper.pk}/deactivate/", follow=True)

    assert "已停用 helper。" in text(response)
    assert _staff(mall_a, pk=helper.pk).is_active is False


def test_nobody_gets_controls_over_their_own_account(owner):
    body = text(owner.get("/console/staff/"))

    assert "/deactivate/" not in body
    assert "/role/" not in body


# --- merchants and API keys ----------------------------------------------------------------


def test_adding_a_merchant(owner, mall_a):
    response = owner.post(
        "/console/merchants/", {"name": "喜茶 HEYTEA", "unit": "L1-08", "business_format": "fnb"}
    )

    with tenant_context(mall_a):
        merchant = Merchant.objects.get()
    connection.set_schema_to_public()
    assert (response.status_code, response["Location"]) == (
        302,
        f"/console/merchants/{merchant.pk}/",
    )
    assert (merchant.name, merchant.unit, merchant.business_format) == (
        "喜茶 HEYTEA",
        "L1-08",
        "fnb",
    )
    assert "餐饮" in text(owner.get("/console/merchants/"))


def test_issuing_rotating_and_revoking_a_key(owner, mall_a, make_merchant):
    shop = make_merchant(mall_a)
    page = f"/console/merchants/{shop.merchant.pk}/"

    issued = owner.post(page, {"action": "issue", "name": "1 号收银台"}, follow=True)

    assert issued.redirect_chain == [(page, 302)]
    secret = re.search(r'id="key-secret" type="text" readonly value="([^"]+)"', text(issued)).group(
        1
    )
    key_id = re.search(r'id="key-id" type="text" readonly value="([^"]+)"', text(issued)).group(1)
    with tenant_context(mall_a):
        key = ApiKey.objects.get(key_id=key_id)
        assert (key.name, decrypt(key.secret_encrypted)) == ("1 号收银台", secret)
    connection.set_schema_to_public()
    assert secret not in text(owner.get(page))

    rotated = owner.post(page, {"action": "rotate", "key_id": key_id}, follow=True)
    assert rotated.redirect_chain == [(page, 302)]
    new_id = re.search(r'id="key-id" type="text" readonly value="([^"]+)"', text(rotated)).group(1)

    revoked = owner.post(page, {"action": "revoke", "key_id": new_id}, follow=True)
    assert f"密钥 {new_id} 已吊销。" in text(revoked)
    with tenant_context(mall_a):
        assert ApiKey.objects.filter(merchant=shop.merchant, revoked_at__isnull=True).count() == 1
    connection.set_schema_to_public()


def test_a_new_secret_waits_encrypted_for_one_page_and_a_reload_creates_nothing(
    owner, mall_a, make_merchant
):
    shop = make_merchant(mall_a)
    page = f"/console/merchants/{shop.merchant.pk}/"

    owner.post(page, {"action": "issue"})
    sealed = owner.client.session[f"atrium.once.api-key-{shop.merchant.pk}"]
    first = text(owner.get(page))
    again = text(owner.get(page))

    secret = re.search(r'id="key-secret" type="text" readonly value="([^"]+)"', first).group(1)
    assert secret not in sealed
    assert "key-secret" not in again
    with tenant_context(mall_a):
        assert ApiKey.objects.filter(merchant=shop.merchant).count() == 2
    connection.set_schema_to_public()


def test_inviting_needs_an_explicit_role(owner, mall_a):
    response = owner.post("/console/staff/", {"username": "someone", "role": "", "merchant": ""})

    assert response.status_code == 400
    with tenant_context(mall_a):
        assert not StaffUser.objects.filter(username="someone").exists()
    connection.set_schema_to_public()


def test_a_key_of_another_merchant_cannot_be_touched_through_this_one(owner, mall_a, make_merchant):
    mine = make_merchant(mall_a)
    theirs = make_merchant(mall_a, name="Other")

    response = owner.post(
        f"/console/merchants/{mine.merchant.pk}/",
        {"action": "revoke", "key_id": theirs.key_id},
        follow=True,
    )

    assert "没有找到该密钥。" in text(response)
    with tenant_context(mall_a):
        assert ApiKey.objects.get(key_id=theirs.key_id).revoked_at is None
    connection.set_schema_to_public()


def test_marketing_sees_merchants_but_not_their_keys(mall_a, make_merchant):
    shop = make_merchant(mall_a)
    with tenant_context(mall_a):
        invite_staff(username="marketer", role=StaffRole.MARKETING, password=PASSWORD)
    connection.set_schema_to_public()
    browser = Browser(host_of("mall-a"))
    browser.sign_in("console", "marketer")
    page = f"/console/merchants/{shop.merchant.pk}/"

    body = text(browser.get(page))
    issued = browser.post(page, {"action": "issue"})
    added = browser.post("/console/merchants/", {"name": "X", "business_format": "retail"})

    assert shop.key_id not in body
    assert (issued.status_code, added.status_code) == (403, 403)
    with tenant_context(mall_a):
        assert ApiKey.objects.count() == 1
        assert Merchant.objects.count() == 1
    connection.set_schema_to_public()


def test_a_merchant_of_mall_a_is_not_found_on_mall_b(make_merchant, mall_a, mall_b):
    shop = make_merchant(mall_a)
    browser = Browser(host_of("mall-b"))
    browser.sign_in("console", "owner")

    assert browser.get(f"/console/merchants/{shop.merchant.pk}/").status_code == 404


# --- merchant portal -----------------------------------------------------------------------


def test_a_cashier_signs_in_and_sees_the_shop_and_real_counts(mall_a, make_merchant):
    shop = make_merchant(mall_a, name="星巴克 Starbucks", cashier="till-1")
    browser = Browser(host_of("mall-a"))

    response = browser.sign_in("merchant", "till-1")
    body = text(browser.get("/merchant/"))

    assert (response.status_code, response["Location"]) == (302, "/merchant/")
    assert re.search(r'data-testid="merchant-name">星巴克 Starbucks<', body)
    assert re.search(r'data-testid="staff-role">商户收银员<', body)
    assert re.search(r'data-testid="today-keys">1<', body)
    assert re.search(r'data-testid="today-staff">1<', body)
    assert "尚未接入" in body
    assert shop.secret not in body


def test_merchant_portal_logout(mall_a, make_merchant):
    make_merchant(mall_a, cashier="till-1")
    browser = Browser(host_of("mall-a"))
    browser.sign_in("merchant", "till-1")

    assert browser.post("/merchant/logout/")["Location"] == "/merchant/login/"
    assert browser.get("/merchant/").status_code == 302


# --- member app ----------------------------------------------------------------------------


def test_member_app_is_themed_with_the_tenant_branding(mall_a):
    tenant_services.update_tenant(
        tenant=mall_a,
        display_name="A 广场",
        primary_color="#0A7B83",
        logo_url="https://cdn.example.invalid/a.png",
    )

    body = text(Browser(host_of("mall-a")).get("/m/"))

    assert "<style>:root{--brand:#0A7B83;--on-brand:#FFFFFF}</style>" in body
    assert '<span data-testid="brand-name">A 广场</span>' in body
    assert 'src="https://cdn.example.invalid/a.png"' in body
    assert '<link rel="manifest" href="/m/manifest.webmanifest">' in body
    assert '<meta name="theme-color" content="#0A7B83">' in body
    assert [tier in body for tier in ("普卡", "银卡", "金卡", "钻石卡")] == [True] * 4
    assert "每消费 ¥1 积 1 分" in body


def test_member_app_picks_readable_text_on_a_light_brand(mall_a):
    tenant_services.update_tenant(tenant=mall_a, primary_color="#FFE600")

    body = text(Browser(host_of("mall-a")).get("/m/"))

    assert "<style>:root{--brand:#FFE600;--on-brand:#141A26}</style>" in body


def test_member_app_manifest(mall_a):
    tenant_services.update_tenant(tenant=mall_a, display_name="A 广场", primary_color="#0A7B83")

    response = Browser(host_of("mall-a")).get("/m/manifest.webmanifest")

    assert response["Content-Type"] == "application/manifest+json"
    assert json.loads(response.content) == {
        "name": "A 广场",
        "short_name": "A 广场",
        "lang": "zh-hans",
        "start_url": "/m/",
        "scope": "/m/",
        "display": "standalone",
        "theme_color": "#0A7B83",
        "background_color": "#F4F5F7",
        "icons": [{"src": "/m/icon.svg", "sizes": "any", "type": "image/svg+xml"}],
    }


def test_member_app_icon_is_the_brand_monogram(mall_a):
    tenant_services.update_tenant(tenant=mall_a, display_name="演示广场", primary_color="#0A7B83")

    response = Browser(host_of("mall-a")).get("/m/icon.svg")

    assert response["Content-Type"] == "image/svg+xml"
    assert 'fill="#0A7B83"' in text(response)
    assert ">演</text>" in text(response)


def test_member_app_landing_links_to_join_and_login(mall_a):
    body = text(Browser(host_of("mall-a")).get("/m/"))

    assert '<a class="btn" href="/m/join/">加入会员</a>' in body
    assert '<a class="btn btn-ghost" href="/m/login/">会员登录</a>' in body
    assert 'href="#tiers"' not in body


def test_tenant_root_opens_the_member_app(mall_a):
    response = Browser(host_of("mall-a")).get("/")

    assert (response.status_code, response["Location"]) == (302, "/m/")


# --- suspended tenants and language ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/console/", "/console/login/", "/merchant/", "/m/"])
def test_every_page_of_a_suspended_tenant_is_403(mall_a, path):
    tenant_services.suspend_tenant(tenant=mall_a)

    response = Browser(host_of("mall-a")).get(path)

    assert response.status_code == 403
    assert "该商场的服务已暂停，请联系平台服务商。" in text(response)
    assert Tenant.objects.get(pk=mall_a.pk).status == "suspended"


def test_pages_are_chinese_by_default_with_a_switch_to_english(mall_a):
    browser = Browser(host_of("mall-a"))

    body = text(browser.get("/console/login/"))

    assert '<html lang="zh-Hans">' in body
    assert 'action="/i18n/setlang/"' in body
    assert '<button type="submit" name="language" value="en" lang="en">EN</button>' in body
