"""The finance path of a mall owner in a real browser: a merchant's contract, a split rule drafted,
published and previewed; screenshotted in Chinese and in English."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot, shoot_both_languages

pytestmark = pytest.mark.e2e


def _sign_in(page, username, password):
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit].btn-block")


def test_an_owner_records_a_contract_and_previews_a_split(e2e_server, desktop, seeded_mall):
    page = desktop.new_page()
    page.goto(e2e_server.tenant(seeded_mall.slug, "/console/"))
    _sign_in(page, "owner", seeded_mall.password)

    page.click(".topbar nav >> text=商户")
    page.click(f"text={seeded_mall.merchant_name}")
    contract = page.locator("[data-testid=contract-form]")
    contract.locator("select[name=kind]").select_option("concession")
    contract.locator("input[name=commission_rate]").fill("0.18")
    with page.expect_navigation():
        contract.locator("button[type=submit]").click()
    expect(page.locator("[data-testid=contract-table] tbody tr")).to_have_count(1)
    expect(page.locator("[data-testid=contract-table]")).to_contain_text("0.1800")
    shoot_both_languages(page, "console-merchant-contract")

    page.goto(e2e_server.tenant(seeded_mall.slug, "/console/split-rules/"))
    rule = page.locator("[data-testid=split-rule-form]")
    rule.locator("input[name=name]").fill("支付宝手续费")
    rule.locator("select[name=kind]").select_option("channel_fee")
    rule.locator("input[name=rate]").fill("0.006")
    rule.locator("select[name=payment_method]").select_option("alipay")
    with page.expect_navigation():
        rule.locator("button[type=submit]").click()
    with page.expect_navigation():
        page.click("[data-testid=split-rule-table] button:has-text('发布')")
    expect(page.locator("[data-testid=split-rule-table]")).to_contain_text("已发布")

    preview = page.locator("[data-testid=split-preview-form]")
    preview.locator("input[name=total]").fill("100.00")
    preview.locator("select[name=payment_method]").select_option("alipay")
    with page.expect_navigation():
        preview.locator("button[type=submit]").click()
    table = page.locator("[data-testid=split-preview]")
    expect(table).to_contain_text("¥0.60")
    expect(table).to_contain_text("¥18.00")
    expect(table).to_contain_text("¥81.40")
    shoot(page, "console-split-preview.zh")
