"""Each persona's main path in a real browser, screenshotted in Chinese and in English."""

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot, shoot_both_languages

pytestmark = pytest.mark.e2e

OWNER_PASSWORD = "galaxy-owner-password-2026"


def _sign_in(page, username, password):
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit].btn-block")


def test_provider_onboards_suspends_and_resumes_a_mall_whose_owner_then_signs_in(
    e2e_server, desktop, e2e_provider_admin, forget_tenant
):
    slug = f"e2e-{uuid.uuid4().hex[:6]}"
    forget_tenant.append(slug)
    page = desktop.new_page()

    # The provider admin signs in on the bare domain.
    page.goto(e2e_server.provider("/"))
    expect(page).to_have_url(e2e_server.provider("/login/?next=/"))
    shoot_both_languages(page, "provider-login")
    _sign_in(page, e2e_provider_admin.username, e2e_provider_admin.password)
    expect(page.locator("h1")).to_have_text("入驻商场")

    # ... onboards a mall from the form ...
    page.click("text=入驻新商场 >> nth=0")
    shoot_both_languages(page, "provider-onboard")
    page.fill("input[name=name]", "滨江天地 Riverside")
    page.fill("input[name=slug]", slug)
    page.select_option("select[name=kind]", "commercial_street")
    page.fill("input[name=display_name]", "滨江天地")
    page.fill("input[name=primary_color]", "#6d28d9")
    page.fill("input[name=operator_username]", "river-owner")
    page.fill("input[name=operator_email]", "owner@riverside.invalid")
    with page.expect_navigation():
        page.click("button:has-text('创建并邀请')")
    expect(page.locator(".notice-ok")).to_have_text("「滨江天地 Riverside」已入驻。")
    invitation = page.get_attribute("[data-testid=invitation-url]", "value")
    assert invitation.startswith(e2e_server.tenant(slug, "/console/invitation/"))
    shoot(page, "provider-onboarded.zh")
    page.reload()
    expect(page.locator("[data-testid=invitation-url]")).to_have_count(0)

    # ... suspends it: its console answers 403 ...
    with page.expect_navigation():
        page.click("button:has-text('暂停服务')")
    expect(page.locator("h1 .badge")).to_have_text("已暂停")
    shoot_both_languages(page, "provider-tenant-suspended")
    console = desktop.new_page()
    refused = console.goto(e2e_server.tenant(slug, "/console/"))
    assert refused.status == 403
    expect(console.locator("body")).to_contain_text("该商场的服务已暂停，请联系平台服务商。")
    shoot(console, "console-suspended.zh")

    # ... and resumes it.
    with page.expect_navigation():
        page.click("button:has-text('恢复服务')")
    expect(page.locator("h1 .badge")).to_have_text("运营中")
    reopened = console.goto(e2e_server.tenant(slug, "/console/"))
    assert reopened.status == 200
    expect(console).to_have_url(e2e_server.tenant(slug, "/console/login/?next=/console/"))

    # The new owner opens the invitation link, sets a password and lands in the console.
    owner = desktop.browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        owner_page = owner.new_page()
        owner_page.goto(invitation)
        expect(owner_page.locator(".auth-brand p")).to_have_text(
            "为账号 river-owner（所有者）设置密码"
        )
        shoot(owner_page, "console-invitation.zh")
        owner_page.fill("input[name=password]", OWNER_PASSWORD)
        owner_page.fill("input[name=password_confirm]", OWNER_PASSWORD)
        with owner_page.expect_navigation():
            owner_page.click("button[type=submit]")
        expect(owner_page).to_have_url(e2e_server.tenant(slug, "/console/"))
        expect(owner_page.locator("h1")).to_have_text("你好，river-owner")
        expect(owner_page.locator(".topbar .brand")).to_contain_text("滨江天地")
        shoot_both_languages(owner_page, "console-home")

        owner_page.click(".topbar nav >> text=员工与角色")
        expect(owner_page.locator("[data-testid=staff-table]")).to_contain_text("river-owner")
        expect(owner_page.locator("[data-testid=staff-table]")).to_contain_text("所有者")
        shoot_both_languages(owner_page, "console-staff")

        owner_page.click(".topbar nav >> text=会员计划")
        tiers = owner_page.locator("[data-testid=tier-table] tbody tr .primary")
        expect(tiers).to_have_text(["普卡", "银卡", "金卡", "钻石卡"])
        expect(owner_page.locator("body")).to_contain_text("每消费 ¥1 积 1 分")
        shoot_both_languages(owner_page, "console-program")
    finally:
        owner.close()

    # The provider sees the new mall's usage: its one owner, nothing else yet.
    page.reload()
    expect(page.locator("[data-testid=usage-mall-staff]")).to_have_text("1")
    expect(page.locator("[data-testid=usage-merchants]")).to_have_text("0")
    shoot_both_languages(page, "provider-tenant")
    page.click(".topbar nav >> text=商场")
    expect(page.locator("table.table")).to_contain_text(slug)
    shoot_both_languages(page, "provider-tenants")


def test_a_mall_owner_issues_a_pos_key_and_invites_a_colleague(e2e_server, desktop, seeded_mall):
    page = desktop.new_page()
    page.goto(e2e_server.tenant(seeded_mall.slug, "/console/"))
    shoot_both_languages(page, "console-login")
    _sign_in(page, "owner", seeded_mall.password)

    page.click(".topbar nav >> text=商户")
    expect(page.locator("[data-testid=merchant-table]")).to_contain_text(seeded_mall.merchant_name)
    shoot_both_languages(page, "console-merchants")
    page.click(f"text={seeded_mall.merchant_name}")
    with page.expect_navigation():
        page.click("button:has-text('生成新密钥')")
    secret = page.get_attribute("[data-testid=key-secret]", "value")
    assert len(secret) >= 40
    expect(page.locator("[data-testid=key-table] tbody tr")).to_have_count(2)
    shoot(page, "console-merchant-key.zh")
    page.reload()
    assert secret not in page.content()
    expect(page.locator("[data-testid=key-table] tbody tr")).to_have_count(2)

    page.click(".topbar nav >> text=员工与角色")
    invite = page.locator("#invite-form")
    invite.locator("input[name=username]").fill("finance-1")
    invite.locator("input[name=display_name]").fill("财务小王")
    invite.locator("select[name=role]").select_option("finance")
    with page.expect_navigation():
        invite.locator("button[type=submit]").click()
    link = page.get_attribute("[data-testid=invitation-url]", "value")
    assert link.startswith(e2e_server.tenant(seeded_mall.slug, "/console/invitation/"))
    row = page.locator("[data-testid=staff-table] tr", has_text="finance-1")
    expect(row).to_contain_text("待接受邀请")
    expect(row.locator("select[name=role]")).to_have_value("finance")
    shoot(page, "console-staff-invited.zh")


def test_a_cashier_signs_in_to_the_merchant_portal(e2e_server, phone, seeded_mall):
    page = phone.new_page()
    page.goto(e2e_server.tenant(seeded_mall.slug, "/merchant/"))
    expect(page).to_have_url(
        e2e_server.tenant(seeded_mall.slug, "/merchant/login/?next=/merchant/")
    )
    shoot_both_languages(page, "merchant-login")

    _sign_in(page, seeded_mall.cashier, seeded_mall.password)

    expect(page).to_have_url(e2e_server.tenant(seeded_mall.slug, "/merchant/"))
    expect(page.locator("[data-testid=merchant-name]")).to_have_text(seeded_mall.merchant_name)
    expect(page.locator("[data-testid=staff-role]")).to_have_text("商户收银员")
    expect(page.locator("[data-testid=today-staff]")).to_have_text("1")
    assert int(page.inner_text("[data-testid=today-keys]")) >= 1
    shoot_both_languages(page, "merchant-home")


def test_the_member_app_wears_the_malls_branding(e2e_server, phone, seeded_mall):
    page = phone.new_page()
    page.goto(e2e_server.tenant(seeded_mall.slug, "/m/"))

    brand = page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--brand').trim()"
    )
    assert brand == seeded_mall.color
    bar = page.evaluate("getComputedStyle(document.querySelector('.app-bar')).backgroundColor")
    assert bar == "rgb(14, 124, 134)"
    expect(page.locator("[data-testid=brand-name]")).to_have_text(seeded_mall.display_name)
    logo = page.locator("[data-testid=brand-logo]")
    expect(logo).to_have_attribute("src", seeded_mall.logo_url)
    assert page.evaluate("document.querySelector('[data-testid=brand-logo]').naturalWidth") > 0
    expect(page.locator(".tier h3")).to_have_text(["普卡", "银卡", "金卡", "钻石卡"])
    expect(page.locator("#earning")).to_contain_text("每消费 ¥1 积 1 分")
    href = page.get_attribute("link[rel=manifest]", "href")
    manifest = page.evaluate("href => fetch(href).then(response => response.json())", href)
    assert (manifest["name"], manifest["theme_color"]) == (
        seeded_mall.display_name,
        seeded_mall.color,
    )
    assert re.fullmatch(r"#[0-9A-F]{6}", page.get_attribute("meta[name=theme-color]", "content"))
    shoot_both_languages(page, "member-landing")
