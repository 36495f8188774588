"""The merchant portal's sales screen in a real browser: a manager keeps it open, a cashier of
the same shop records a sale on the till in another browser, and the sale's row with its split
lines appears on the manager's page without a reload (outbox → Celery → `/ws/merchant/`)."""

import datetime as dt

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from apps.accounts.choices import StaffRole
from apps.accounts.services import invite_staff
from apps.merchants.services import create_merchant
from tenants.models import Tenant
from tests.apps.settlement.statement_helpers import contract
from tests.conftest import PASSWORD
from tests.e2e.conftest import shoot, shoot_both_languages

pytestmark = pytest.mark.e2e


@pytest.fixture
def muji(seeded_mall, django_db_blocker):
    """A merchant on a 20% concession contract, with a manager and a cashier."""
    with django_db_blocker.unblock():
        with tenant_context(Tenant.objects.get(slug=seeded_mall.slug)):
            shop = create_merchant(name="无印良品 MUJI", business_format="retail", unit="L2-08")
            contract(shop, effective_from=dt.date(2026, 1, 1))
            invite_staff(username="muji-manager", display_name="店长小陈",
                         role=StaffRole.MERCHANT_MANAGER, merchant=shop, password=PASSWORD)  # fmt: skip
            invite_staff(username="muji-till", display_name="收银员小李",
                         role=StaffRole.MERCHANT_CASHIER, merchant=shop, password=PASSWORD)  # fmt: skip
        connection.set_schema_to_public()
    return shop


def _sign_in(page, username):
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit].btn-block")


def test_a_sale_at_the_till_appears_live_with_its_split_lines(e2e_server, phone, seeded_mall, muji):
    manager = phone.new_page()
    manager.goto(e2e_server.tenant(seeded_mall.slug, "/merchant/sales/"))
    _sign_in(manager, "muji-manager")
    manager.goto(e2e_server.tenant(seeded_mall.slug, "/merchant/sales/"))
    expect(manager.locator("[data-testid=sales-title]")).to_have_text("今日销售")
    expect(manager.locator("[data-testid=sales]")).to_contain_text("今天还没有消费记录。")
    expect(manager.locator("[data-testid=live-state]")).to_have_attribute(
        "data-state", "on", timeout=20_000
    )
    shoot_both_languages(manager, "merchant-sales-empty")
    expect(manager.locator("[data-testid=live-state]")).to_have_attribute(
        "data-state", "on", timeout=20_000
    )
    manager.evaluate("window.stillTheSamePage = true")

    till = phone.browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    try:
        cashier = till.new_page()
        cashier.goto(e2e_server.tenant(seeded_mall.slug, "/merchant/"))
        _sign_in(cashier, "muji-till")
        cashier.fill("input[name=amount]", "120.00")
        cashier.click("text=现金")
        with cashier.expect_navigation():
            cashier.click("[data-testid=record-sale]")
        expect(cashier.locator("[data-testid=sale-result]")).to_contain_text("¥120.00")
        expect(cashier.locator("[data-testid=today-sales] li")).to_have_count(1)
    finally:
        till.close()

    row = manager.locator("[data-testid=sale-row]")
    expect(row).to_have_count(1, timeout=20_000)
    expect(row.locator("[data-kind=merchant_share]")).to_contain_text("¥96.00")
    expect(row.locator("[data-kind=commission]")).to_contain_text("¥24.00")
    expect(row).to_contain_text("¥120.00")
    expect(row).to_contain_text("非会员")
    expect(manager.locator("[data-testid=sales]")).not_to_contain_text("今天还没有消费记录。")
    assert manager.evaluate("window.stillTheSamePage") is True  # no reload: the socket did it
    shoot(manager, "merchant-sales-live.zh")

    # After a reload the totals count it too.
    manager.reload()
    expect(manager.locator("[data-testid=total-count]")).to_have_text("1")
    expect(manager.locator("[data-testid=total-gross]")).to_have_text("¥120.00")
    expect(manager.locator("[data-testid=total-merchant-share]")).to_have_text("¥96.00")
    expect(manager.locator("[data-testid=total-commission]")).to_have_text("¥24.00")
    shoot_both_languages(manager, "merchant-sales")
