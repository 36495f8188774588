"""The membership path in a real browser: a shopper joins with phone + SMS code and sees the
member code; a cashier records a sale with that code; the points land on the member's page live
(websocket, through the outbox and the Celery worker); an operator finds the member and opens
the 360° view. Every new screen is screenshotted in Chinese and English."""

import re
import struct
import time
import zlib
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from apps.sales.models import Sale
from tenants.models import Tenant
from tests.e2e.conftest import shoot, shoot_both_languages

pytestmark = pytest.mark.e2e

PHONE = "13912345678"


def _receipt_png(width: int = 120, height: int = 160) -> bytes:
    """A small grey-on-white PNG that looks like a till receipt (made here: no image files)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = []
    for y in range(height):
        printed = 12 <= y < height - 12 and y % 9 in (0, 1, 2) and (y // 9) % 4 != 3
        line_end = width - 14 - (y * 7) % 40
        row = bytes(150 if printed and 12 <= x < line_end else 252 for x in range(width))
        rows.append(b"\x00" + row)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


def _sms_code(folder: Path, phone: str, after: float, timeout: float = 15.0) -> str:
    """The code of the newest text to `phone` written after `after` (the `file` SMS backend)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(folder.glob("*.txt"), reverse=True):
            if path.stat().st_mtime < after:
                continue
            content = path.read_text(encoding="utf-8")
            if content.startswith(f"To: {phone}\n"):
                return re.search(r"验证码是(\d{6})", content).group(1)
        time.sleep(0.1)
    pytest.fail(f"no text to {phone} in {folder}")


def _fit_to_page(page) -> None:
    """Make the viewport as tall as the page: the member app's tab bar sticks to the bottom of
    the viewport, and a full-page capture would otherwise paint it mid-page."""
    page.set_viewport_size({"width": 390, "height": 844})
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 390, "height": max(844, height)})


def shoot_app(page, name: str) -> None:
    """`shoot_both_languages` for the phone-sized member app, each language fitted to its page."""
    _fit_to_page(page)
    shoot(page, f"{name}.zh")
    with page.expect_navigation():
        page.locator("form.lang button[value=en]").first.click()
    _fit_to_page(page)
    shoot(page, f"{name}.en")
    with page.expect_navigation():
        page.locator("form.lang button[value=zh-hans]").first.click()
    page.set_viewport_size({"width": 390, "height": 844})


def _sign_in(page, username, password):
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit].btn-block")


def _balance(page) -> int:
    return int(page.inner_text("[data-testid=points-balance]").replace(",", ""))


def test_a_member_joins_a_cashier_sells_points_land_live_and_an_operator_sees_it_all(
    e2e_server, phone, desktop, seeded_mall, django_db_blocker
):
    mall = seeded_mall

    # --- a shopper joins with phone + SMS code --------------------------------------------------
    member = phone.new_page()
    member.goto(e2e_server.tenant(mall.slug, "/m/"))
    with member.expect_navigation():
        member.click("text=加入会员")
    expect(member).to_have_url(e2e_server.tenant(mall.slug, "/m/join/"))
    shoot_both_languages(member, "member-join")
    member.fill("input[name=phone]", PHONE)
    member.check("input[name=agree]")
    member.check("input[name=marketing]")
    sent_at = time.time() - 1
    with member.expect_navigation():
        member.click("button[value=send]")
    expect(member.locator("[data-testid=otp-form]")).to_contain_text("139****5678")
    shoot_both_languages(member, "member-join-code")
    member.fill("input[name=otp]", _sms_code(e2e_server.sms_dir, PHONE, sent_at))
    with member.expect_navigation():
        member.click("button[value=verify]")
    expect(member).to_have_url(e2e_server.tenant(mall.slug, "/m/home/"))
    expect(member.locator(".notice-ok")).to_have_text("欢迎加入！")

    # ... and sees the member code: QR, barcode and digits, and a live socket.
    code = member.inner_text("[data-testid=member-code]")
    assert re.fullmatch(r"9\d{17}", code)
    expect(member.locator("#member-code svg.qr")).to_be_visible()
    expect(member.locator("#member-code svg.barcode")).to_be_visible()
    expect(member.locator("[data-live-state]")).to_have_attribute("data-state", "on")
    member_no = member.inner_text("[data-testid=member-no]")
    assert _balance(member) == 0
    expect(member.locator("[data-testid=member-tier]")).to_have_text("普卡")
    expect(member.locator("[data-testid=tier-growth]")).to_have_text("成长值 0")
    expect(member.locator("[data-testid=tier-gap]")).to_have_text(
        "再获得 2000 成长值即可升级为银卡。"
    )
    _fit_to_page(member)
    shoot(member, "member-home.zh")
    member.set_viewport_size({"width": 390, "height": 844})

    # --- a cashier records a sale with that code ------------------------------------------------
    till = phone.browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    try:
        cashier = till.new_page()
        cashier.goto(e2e_server.tenant(mall.slug, "/merchant/"))
        _sign_in(cashier, mall.cashier, mall.password)
        expect(cashier.locator("[data-testid=cashier-title]")).to_have_text("收银台")
        shoot_both_languages(cashier, "merchant-cashier")
        member.evaluate("window.stillTheSamePage = true")
        cashier.fill("input[name=member]", code)
        cashier.fill("input[name=amount]", "268.00")
        cashier.click("text=支付宝")
        with cashier.expect_navigation():
            cashier.click("[data-testid=record-sale]")
        expect(cashier.locator("[data-testid=sale-points]")).to_have_text("+268")
        expect(cashier.locator("[data-testid=sale-balance]")).to_have_text("268")
        expect(cashier.locator("[data-testid=today-sales]")).to_contain_text(member_no)
        shoot(cashier, "merchant-cashier-recorded.zh")

        # --- the points land on the member's page, without a reload -----------------------------
        expect(member.locator("[data-testid=points-balance]")).to_have_text("268", timeout=20_000)
        expect(member.locator("[data-testid=points-spendable]")).to_have_text("268")
        # ... and so do the growth, the gap to the next tier and the expiring figure
        expect(member.locator("[data-testid=tier-growth]")).to_have_text("成长值 268")
        expect(member.locator("[data-testid=tier-gap]")).to_have_text(
            "再获得 1732 成长值即可升级为银卡。"
        )
        expect(member.locator("[data-testid=member-tier]")).to_have_text("普卡")
        expect(member.locator("[data-testid=points-expiring]")).to_have_text("0")
        assert member.evaluate("window.stillTheSamePage") is True  # no reload: the socket did it
        shoot_app(member, "member-home-points")

        # The code the till used is spent: the same code again is refused.
        cashier.fill("input[name=member]", code)
        cashier.fill("input[name=amount]", "10.00")
        with cashier.expect_navigation():
            cashier.click("[data-testid=record-sale]")
        expect(cashier.locator(".notice-bad")).to_contain_text("这个会员码已经用过了")
    finally:
        till.close()

    # --- the member's other pages --------------------------------------------------------------
    member.click(".tabbar >> text=积分明细")
    expect(member.locator("[data-testid=entries]")).to_contain_text("+268")
    shoot_app(member, "member-points")
    member.click(".tabbar >> text=小票积分")
    member.set_input_files(
        "input[name=photo]",
        {"name": "receipt.png", "mimeType": "image/png", "buffer": _receipt_png()},
    )
    member.select_option("select[name=merchant]", label=f"{mall.merchant_name} · L1-05")
    member.fill("input[name=receipt_no]", "POS-20260801-7788")
    member.fill("input[name=amount]", "45.50")
    member.fill("input[name=occurred_on]", timezone.localdate().isoformat())
    with member.expect_navigation():
        member.click("button[type=submit].btn-block")
    expect(member.locator("[data-testid=my-receipts]")).to_contain_text("待审核")
    shoot_app(member, "member-receipts")
    member.click(".tabbar >> text=我的")
    member.fill("input[name=display_name]", "阿明")
    with member.expect_navigation():
        member.click("button[value=profile]")
    expect(member.locator(".notice-ok")).to_have_text("资料已保存。")
    shoot_app(member, "member-profile")

    # --- an operator finds the member and sees the 360° view --------------------------------------
    console = desktop.new_page()
    console.goto(e2e_server.tenant(mall.slug, "/console/"))
    _sign_in(console, "owner", mall.password)
    console.click('.topbar nav >> text="会员"')
    console.fill("input[name=q]", PHONE)
    with console.expect_navigation():
        console.click("[data-testid=member-search] button[type=submit]")
    row = console.locator("[data-testid=member-table] tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(PHONE)  # the owner may see personal data
    shoot_both_languages(console, "console-members")
    with console.expect_navigation():
        row.locator("a.primary").click()
    expect(console.locator("[data-testid=member-no]")).to_have_text(member_no)
    expect(console.locator("[data-testid=member-balance]")).to_have_text("268")
    expect(console.locator("[data-testid=member-phone]")).to_have_text(PHONE)
    expect(console.locator("[data-testid=points-ledger]")).to_contain_text("+268")
    shoot_both_languages(console, "console-member-360")
    console.click("[data-testid=member-ledgers] .tabs >> text=消费记录")
    expect(console.locator("[data-testid=member-sales]")).to_contain_text(mall.merchant_name)
    expect(console.locator("[data-testid=member-sales]")).to_contain_text("¥268.00")
    shoot(console, "console-member-360-sales.zh")

    # A large adjustment waits for a second operator.
    console.click("[data-testid=member-ledgers] .tabs >> text=积分流水")
    console.fill("input[name=points]", "5000")
    console.fill("input[name=reason]", "商场周年庆补偿")
    with console.expect_navigation():
        console.click("[data-testid=adjust-form] button[type=submit]")
    expect(console.locator(".notice-warn")).to_contain_text("等待另一位运营审批")
    console.click(".topbar nav >> text=审核")
    expect(console.locator("[data-testid=pending-adjustments]")).to_contain_text("+5,000")
    shoot_both_languages(console, "console-adjustments")
    console.click("text=小票审核")
    expect(console.locator("[data-testid=receipt-queue]")).to_contain_text("POS-20260801-7788")
    shoot_both_languages(console, "console-receipts")

    # The program editors: tiers, rules, a rule's preview.
    console.click(".topbar nav >> text=会员计划")
    console.click("[data-testid=tier-table] tr:has-text('金卡') >> text=编辑")
    expect(console.locator("[data-testid=tier-form]")).to_be_visible()
    shoot_both_languages(console, "console-tier-edit")
    console.goto(e2e_server.tenant(mall.slug, "/console/program/rules/"))
    expect(console.locator("[data-testid=rule-table]")).to_contain_text("基础积分")
    shoot_both_languages(console, "console-rules")
    console.click("[data-testid=rule-table] >> text=基础积分")
    console.fill("[data-testid=preview-form] input[name=total]", "300.00")
    console.select_option("[data-testid=preview-form] select[name=tier]", "gold")
    with console.expect_navigation():
        console.click("[data-testid=preview-form] button[type=submit]")
    expect(console.locator("[data-testid=preview-points]")).to_have_text("450")
    shoot_both_languages(console, "console-rule-preview")
    console.goto(e2e_server.tenant(mall.slug, "/console/members/import/"))
    shoot_both_languages(console, "console-member-import")

    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(slug=mall.slug)
        with tenant_context(tenant):
            sales = list(Sale.objects.values_list("channel", "total", "points_earned"))
        connection.set_schema_to_public()
    assert [(channel, str(total), points) for channel, total, points in sales] == [
        ("portal", "268.00", 268)
    ]
