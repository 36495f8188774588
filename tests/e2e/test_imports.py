"""A CSV import in a real browser: an operator uploads a merchant's sales file in the console;
the real Celery worker imports it in chunks while the job page polls its progress, which reaches
done with the exact counts; the bad rows are listed and the error report downloads."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from apps.merchants.services import create_merchant
from apps.sales.models import Sale
from tenants.models import Tenant
from tenants.services import onboard_tenant
from tests.conftest import PASSWORD
from tests.e2e.conftest import shoot, shoot_both_languages

pytestmark = pytest.mark.e2e

ROWS = 240  # three chunks: the page sees the job run before it is done


def _sales_csv() -> bytes:
    when = (timezone.localtime() - dt.timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    lines = ["小票号,交易时间,金额,支付方式"]
    for number in range(2, ROWS + 2):
        total = {37: "abc", 150: "10.001"}.get(number, "25.00")
        payment = "cash:20" if number == 200 else "card"
        lines.append(f"E-{number},{when},{total},{payment}")
    return ("\n".join(lines) + "\n").encode()


def test_an_operator_imports_sales_and_watches_the_job_finish(
    e2e_server, desktop, django_db_blocker, forget_tenant, tmp_path
):
    slug = f"e2e-{uuid.uuid4().hex[:6]}"
    forget_tenant.append(slug)
    with django_db_blocker.unblock():
        tenant = onboard_tenant(
            name="导入广场", slug=slug, operator_username="owner", operator_password=PASSWORD
        ).tenant
        with tenant_context(tenant):
            create_merchant(name="喜茶 HEYTEA", business_format="fnb", unit="B1-12")
        connection.set_schema_to_public()

    page = desktop.new_page()
    page.goto(e2e_server.tenant(slug, "/console/"))
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit].btn-block")
    page.click('.topbar nav >> text="商户"')
    with page.expect_navigation():
        page.click("[data-testid=sales-import-link]")
    expect(page.locator("select[name=kind]")).to_have_value("sales")
    page.select_option("select[name=merchant]", label="喜茶 HEYTEA")
    page.set_input_files(
        "input[name=file]",
        {"name": "heytea-may.csv", "mimeType": "text/csv", "buffer": _sales_csv()},
    )
    shoot(page, "console-import-upload.zh")
    with page.expect_navigation():
        page.click("[data-testid=import-form] button[type=submit]")

    # The job page polls until the worker is done, then shows the bad rows.
    expect(page.locator("h1")).to_have_text("heytea-may.csv")
    expect(page.locator("[data-testid=import-status]")).to_have_attribute(
        "data-status", "done", timeout=60_000
    )
    expect(page.locator("[data-testid=import-total]")).to_have_text("240")
    expect(page.locator("[data-testid=import-processed]")).to_have_text("240")
    expect(page.locator("[data-testid=import-succeeded]")).to_have_text("237")
    expect(page.locator("[data-testid=import-failed]")).to_have_text("3")
    errors = page.locator("[data-testid=import-errors] tbody tr")
    expect(errors).to_have_count(3)
    expect(errors.nth(0)).to_contain_text("37")
    expect(errors.nth(0)).to_contain_text("sales.invalid_amount")
    expect(errors.nth(1)).to_contain_text("150")
    expect(errors.nth(2)).to_contain_text("sales.total_mismatch")
    shoot_both_languages(page, "console-import-done")

    with page.expect_download() as download:
        page.click("[data-testid=import-report-download]")
    report = tmp_path / "report.csv"
    download.value.save_as(report)
    assert report.read_text(encoding="utf-8-sig").splitlines()[0] == "row,field,code,message"
    assert [
        line.split(",")[:3] for line in report.read_text(encoding="utf-8-sig").splitlines()[1:]
    ] == [
        ["37", "total", "sales.invalid_amount"],
        ["150", "total", "sales.invalid_amount"],
        ["200", "", "sales.total_mismatch"],
    ]

    # The list of imports shows the finished job.
    page.goto(e2e_server.tenant(slug, "/console/imports/"))
    expect(page.locator("[data-testid=import-jobs] tbody tr")).to_contain_text("已完成")
    shoot_both_languages(page, "console-imports")

    with django_db_blocker.unblock():
        with tenant_context(Tenant.objects.get(slug=slug)):
            recorded = (Sale.objects.filter(channel="import").count(), Sale.objects.count())
        connection.set_schema_to_public()
    assert recorded == (237, 237)
