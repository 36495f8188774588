"""Settlement in a real browser: a finance operator closes the period and issues statements; a
merchant manager confirms one and downloads its PDF. The statement page and the PDF (rendered
to PNG with poppler's pdftoppm) are screenshotted to look at."""

import datetime as dt
import subprocess

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from apps.accounts.choices import StaffRole
from apps.accounts.services import invite_staff
from apps.merchants.services import create_merchant
from tenants.models import Tenant
from tests.apps.settlement.statement_helpers import at, clearing, contract, sale, split
from tests.conftest import PASSWORD
from tests.e2e.conftest import SCREENSHOTS, shoot, shoot_both_languages

pytestmark = pytest.mark.e2e


@pytest.fixture
def uniqlo(seeded_mall, django_db_blocker):
    """A merchant on a guaranteed-minimum contract with last month's sales, and its manager."""
    last_end = timezone.localdate().replace(day=1) - dt.timedelta(days=1)
    last_start = last_end.replace(day=1)
    with django_db_blocker.unblock():
        with tenant_context(Tenant.objects.get(slug=seeded_mall.slug)):
            shop = create_merchant(name="优衣库 UNIQLO", business_format="retail", unit="B1-12")
            invite_staff(username="uniqlo-manager", display_name="店长小王",
                         role=StaffRole.MERCHANT_MANAGER, merchant=shop, password=PASSWORD)  # fmt: skip
            contract(shop, kind="guaranteed_minimum", commission_rate="0.1800",
                     minimum_amount="5000.00", effective_from=last_start)  # fmt: skip
            for day, total, share, commission, fee in (
                (3, "12800.00", "10432.00", "2304.00", "64.00"),
                (15, "8650.00", "7050.00", "1557.00", "43.00"),
            ):
                record = sale(shop, total, at(last_start + dt.timedelta(days=day)))
                split(record, [("merchant", "merchant_share", share), ("mall", "commission", commission),
                               ("channel", "channel_fee", fee)])  # fmt: skip
            clearing(shop, "acceptor", 12000, "120.00", at(last_start + dt.timedelta(days=9)))
        connection.set_schema_to_public()
    return shop


def _sign_in(page, username):
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit].btn-block")


def test_finance_closes_and_issues_a_merchant_confirms_and_downloads_the_pdf(
    e2e_server, desktop, phone, seeded_mall, uniqlo
):
    finance = desktop.new_page()
    finance.goto(e2e_server.tenant(seeded_mall.slug, "/console/settlement/"))
    _sign_in(finance, "owner")
    expect(finance.locator("h1")).to_have_text("结算")
    with finance.expect_navigation():
        finance.click("[data-testid=close-periods]")
    row = finance.locator("[data-testid=statement-table] tr", has_text="优衣库 UNIQLO")
    # 17,482 merchant share + 120 points − (5,000 minimum − 3,861 commission) = 16,463.
    expect(row).to_contain_text("¥16463.00")
    shoot_both_languages(finance, "settlement-drafts")
    row.locator("input[type=checkbox]").check()
    with finance.expect_navigation():
        finance.click("[data-testid=issue-selected]")
    expect(finance.locator(".notice-ok")).to_have_text("已出账 1 张结算单。")
    expect(finance.locator("[data-testid=statement-table]")).to_contain_text("优衣库 UNIQLO")

    merchant = phone.new_page()
    merchant.goto(e2e_server.tenant(seeded_mall.slug, "/merchant/statements/"))
    _sign_in(merchant, "uniqlo-manager")
    merchant.goto(e2e_server.tenant(seeded_mall.slug, "/merchant/statements/"))
    with merchant.expect_navigation():
        merchant.locator("[data-testid=statement-list] a").first.click()
    expect(merchant.locator("[data-testid=net-payable]")).to_have_text("¥16463.00")
    expect(merchant.locator("[data-testid=statement-summary]")).to_contain_text("保底补差")
    expect(merchant.locator("[data-testid=statement-summary]")).to_contain_text("¥1139.00")
    with merchant.expect_navigation():
        merchant.click("[data-testid=confirm]")
    expect(merchant.locator("[data-testid=statement-status]")).to_have_text("已确认")
    expect(merchant.locator("[data-testid=payout-route]")).to_have_text("银行转账文件")
    shoot_both_languages(merchant, "merchant-statement")

    with merchant.expect_download() as download:
        merchant.click("[data-testid=download-pdf]")
    pdf = SCREENSHOTS / "merchant-statement.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "110",
            "-singlefile",
            str(pdf),
            str(SCREENSHOTS / "statement-pdf"),
        ],
        check=True,
    )
    assert (SCREENSHOTS / "statement-pdf.png").stat().st_size > 20_000

    finance.goto(e2e_server.tenant(seeded_mall.slug, "/console/settlement/?status=confirmed"))
    expect(finance.locator("[data-testid=count-confirmed]")).to_have_text("1")
    shoot(finance, "settlement-confirmed.zh")
