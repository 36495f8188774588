"""The console's member pages (search, 360° view, import, adjustments, receipts) and program
editors (tiers, earning rules with preview, backtest and publishing), and their refusals."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.services import invite_staff
from apps.imports.models import ImportJob
from apps.imports.services import run_import
from apps.loyalty.models import AdjustmentRequest, EarningRule, JournalEntry, Tier
from apps.members.models import Member
from apps.members.services import NewIdentity, join_member
from apps.sales.models import Receipt, Sale
from apps.sales.services import PaymentLine, record_sale, submit_receipt
from tests.conftest import PASSWORD, host_of
from tests.web import Browser, text

PHONE = "13800138000"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def in_schema(mall, fn):
    with tenant_context(mall):
        result = fn()
    connection.set_schema_to_public()
    return result


@pytest.fixture
def staff_browser(mall_a):
    """`staff_browser(role)` signs a new console account with that role in on mall A."""

    def make(role):
        if role == "owner":
            username = "owner"
        else:
            username = f"staff-{role}"
            in_schema(mall_a, lambda: invite_staff(username=username, role=role, password=PASSWORD))
        browser = Browser(host_of("mall-a"))
        assert browser.sign_in("console", username).status_code == 302
        return browser

    return make


@pytest.fixture
def member(mall_a):
    return in_schema(mall_a, lambda: join_member(channel="app", phone=PHONE, name="王芳").member)


@pytest.fixture
def two_shops_sales(mall_a, member, make_merchant):
    first = make_merchant(mall_a, name="星巴克")
    second = make_merchant(mall_a, name="优衣库")

    def sell():
        for shop, external_id, total in ((first, "S-1", "30.00"), (second, "U-1", "200.00")):
            record_sale(
                merchant=shop.merchant,
                external_id=external_id,
                occurred_at=timezone.now(),
                total=total,
                payments=[PaymentLine("wechat", total)],
                member=member,
            )

    in_schema(mall_a, sell)
    return first, second


# --- search and the 360° view ----------------------------------------------------------------


def test_search_by_phone_shows_the_phone_in_clear_to_the_owner(staff_browser, member):
    body = text(staff_browser("owner").get("/console/members/?q=138 0013 8000"))

    assert member.member_no in body
    assert re.search(r'data-testid="member-phone">13800138000<', body)


def test_marketing_staff_see_phones_masked(staff_browser, member):
    body = text(staff_browser(StaffRole.MARKETING).get(f"/console/members/?q={member.member_no}"))

    assert member.member_no in body
    assert re.search(r'data-testid="member-phone">138\*\*\*\*8000<', body)
    assert "13800138000" not in body


def test_search_by_card_and_unknown_keys(staff_browser, mall_a):
    carded = in_schema(
        mall_a,
        lambda: (
            join_member(
                channel="import", phone="13900139000", identities=[NewIdentity("card", "VIP0001")]
            ).member
        ),
    )
    owner = staff_browser("owner")

    found = text(owner.get("/console/members/?q=vip0001"))
    missing = text(owner.get("/console/members/?q=13700137000"))

    assert carded.member_no in found
    assert "没有找到匹配的会员。" in missing


def test_the_360_view_shows_ledgers_and_sales_across_merchants(
    staff_browser, member, two_shops_sales
):
    owner = staff_browser("owner")

    points = text(owner.get(f"/console/members/{member.pk}/"))
    sales = text(owner.get(f"/console/members/{member.pk}/?tab=sales"))
    growth = text(owner.get(f"/console/members/{member.pk}/?tab=growth"))
    tiers = text(owner.get(f"/console/members/{member.pk}/?tab=tiers"))

    assert re.search(r'data-testid="member-balance">230<', points)
    assert re.search(r'data-testid="member-phone">13800138000<', points)
    assert points.count("消费积分") == 2
    assert "星巴克" in sales
    assert "优衣库" in sales
    assert "¥200.00" in sales
    assert "¥30.00" in sales
    assert growth.count('class="right num plus">+') == 2
    assert "普卡" in tiers
    assert "入会" in tiers


def test_the_360_view_masks_identities_without_the_pii_permission(
    staff_browser, member, two_shops_sales
):
    body = text(staff_browser(StaffRole.FINANCE).get(f"/console/members/{member.pk}/"))

    assert "13800138000" not in body
    assert re.search(r'data-testid="member-phone">138\*\*\*\*8000<', body)
    assert "个人信息已脱敏" in body
    assert 'data-testid="adjust-form"' not in body


def test_a_member_of_mall_b_is_not_found_from_mall_a(staff_browser, mall_b):
    other = in_schema(mall_b, lambda: join_member(channel="app", phone=PHONE).member)

    response = staff_browser("owner").get(f"/console/members/{other.pk}/")

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("role", "path"),
    [
        (StaffRole.MARKETING, "/console/members/import/"),
        (StaffRole.MARKETING, "/console/adjustments/"),
        (StaffRole.MARKETING, "/console/receipts/"),
        (StaffRole.FINANCE, "/console/members/import/"),
        (StaffRole.FINANCE, "/console/imports/"),
        (StaffRole.CUSTOMER_SERVICE, "/console/program/tiers/gold/"),
        (StaffRole.CUSTOMER_SERVICE, "/console/program/tiers/new/"),
    ],
)
def test_staff_without_the_permission_get_403(staff_browser, role, path):
    response = staff_browser(role).get(path)

    assert response.status_code == 403
    assert "你的角色无权访问此页面。" in text(response) or "你的角色无权执行此操作。" in text(
        response
    )


def test_merchant_staff_cannot_open_console_member_pages(mall_a, make_merchant, member):
    make_merchant(mall_a, cashier="till-1")
    browser = Browser(host_of("mall-a"))
    browser.sign_in("merchant", "till-1")

    response = browser.get(f"/console/members/{member.pk}/")

    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/")


# --- adjustments ------------------------------------------------------------------------------


def test_a_small_adjustment_applies_at_once(staff_browser, member, mall_a):
    response = staff_browser("owner").post(
        f"/console/members/{member.pk}/", {"points": "50", "reason": "补发活动积分"}
    )

    assert response.status_code == 302
    entries = in_schema(mall_a, lambda: list(JournalEntry.objects.values_list("kind", "points")))
    assert entries == [("adjust", 50)]


def test_a_large_adjustment_waits_for_a_second_operator(staff_browser, member, mall_a):
    owner = staff_browser("owner")
    owner.post(f"/console/members/{member.pk}/", {"points": "5000", "reason": "客诉补偿"})
    adjustment = in_schema(mall_a, lambda: AdjustmentRequest.objects.get())

    own = owner.post(f"/console/adjustments/{adjustment.pk}/decide/", {"decision": "approve"})
    queue = text(owner.get("/console/adjustments/"))
    assert own.status_code == 302
    assert "需要另一位运营审批，申请人不能审批自己的申请。" in queue
    assert in_schema(mall_a, lambda: JournalEntry.objects.count()) == 0

    finance = staff_browser(StaffRole.FINANCE)
    approved = finance.post(
        f"/console/adjustments/{adjustment.pk}/decide/", {"decision": "approve"}
    )

    assert approved.status_code == 302
    assert in_schema(mall_a, lambda: AdjustmentRequest.objects.get().status) == "applied"
    assert in_schema(
        mall_a, lambda: list(JournalEntry.objects.values_list("points", flat=True))
    ) == [5000]


def test_customer_service_may_request_but_not_approve(staff_browser, member, mall_a):
    service = staff_browser(StaffRole.CUSTOMER_SERVICE)
    service.post(f"/console/members/{member.pk}/", {"points": "-3000", "reason": "误发"})
    adjustment = in_schema(mall_a, lambda: AdjustmentRequest.objects.get())

    page = text(service.get("/console/adjustments/"))
    refused = service.post(f"/console/adjustments/{adjustment.pk}/decide/", {"decision": "reject"})

    assert "-3,000" in page
    assert refused.status_code == 403
    assert in_schema(mall_a, lambda: AdjustmentRequest.objects.get().status) == "pending"


# --- import ------------------------------------------------------------------------------------


def test_csv_import_reports_every_bad_row(staff_browser, mall_a):
    csv = (
        "手机号,姓名,生日\n13800138000,王芳,1990-05-01\n12345,坏号码,\n13900139000,李雷,不是日期\n"
    )

    owner = staff_browser("owner")
    response = owner.post(
        "/console/members/import/",
        {"file": SimpleUploadedFile("m.csv", csv.encode(), content_type="text/csv")},
    )
    job = in_schema(mall_a, lambda: ImportJob.objects.get())
    queued = owner.get(response["Location"])
    in_schema(mall_a, lambda: run_import(job_id=job.pk))
    page = owner.get(f"/console/imports/{job.pk}/")
    progress = owner.get(f"/console/imports/{job.pk}/progress/").json()
    report = owner.get(f"/console/imports/{job.pk}/errors.csv")
    body = text(page)

    assert (response.status_code, response["Location"]) == (302, f"/console/imports/{job.pk}/")
    assert 'data-testid="import-status" data-status="queued"' in text(queued)
    assert 'src="/static/atrium/import_job.js"' in text(queued)
    assert re.search(r'data-testid="import-total">3<', body)
    assert re.search(r'data-testid="import-succeeded"[^>]*>1<', body)
    assert re.search(r'data-testid="import-failed"[^>]*>2<', body)
    rows = re.findall(r'<td class="right num">(\d+)</td><td class="mono">(\w+)</td>', body)
    assert rows == [("3", "phone"), ("4", "birthday")]
    assert progress == {
        "status": "done", "status_label": "已完成", "finished": True, "total_rows": 3,
        "processed": 3, "succeeded": 1, "failed": 2, "percent": 100,
    }  # fmt: skip
    assert report["Content-Type"] == "text/csv"
    assert report.content.decode("utf-8-sig").splitlines() == [
        "row,field,code,message",
        "3,phone,members.phone_invalid,not a mainland China mobile number",
        "4,birthday,members.profile_invalid,birthday is not a date (YYYY-MM-DD)",
    ]
    assert in_schema(mall_a, lambda: Member.objects.count()) == 1


def test_an_import_job_is_shown_only_to_roles_that_may_run_its_kind(
    staff_browser, mall_a, make_merchant
):
    shop = make_merchant(mall_a, name="Tea House")
    owner = staff_browser("owner")
    response = owner.post(
        "/console/imports/",
        {
            "kind": "sales",
            "merchant": str(shop.merchant.pk),
            "file": SimpleUploadedFile("s.csv", b"external_id,occurred_at,total\n"),
        },
    )
    job = in_schema(mall_a, lambda: ImportJob.objects.get())
    service = staff_browser(StaffRole.CUSTOMER_SERVICE)

    assert (response.status_code, job.kind, job.merchant_id) == (302, "sales", shop.merchant.pk)
    for path in ("", "progress/", "errors.csv"):
        assert service.get(f"/console/imports/{job.pk}/{path}").status_code == 403
    assert owner.get(f"/console/imports/{job.pk}/errors.csv").status_code == 200
    assert "s.csv" not in text(service.get("/console/imports/"))
    assert "s.csv" in text(owner.get("/console/imports/"))
    missing = owner.get("/console/imports/00000000-0000-0000-0000-000000000000/progress/")
    assert missing.status_code == 404


def test_an_unusable_file_is_refused_with_a_sentence(staff_browser, mall_a):
    response = staff_browser("owner").post(
        "/console/members/import/", {"file": SimpleUploadedFile("m.csv", b"name\nx\n")}
    )

    assert response.status_code == 400
    assert "文件无法导入" in text(response)


# --- receipts ----------------------------------------------------------------------------------


def test_approving_a_receipt_records_its_sale_once(staff_browser, member, mall_a, make_merchant):
    shop = make_merchant(mall_a, name="优衣库")
    receipt = in_schema(
        mall_a,
        lambda: submit_receipt(
            member=member, merchant=shop.merchant, receipt_no="R-9", amount="99.00",
            occurred_on=timezone.localdate(), photo=JPEG,
        ),
    )  # fmt: skip
    owner = staff_browser("owner")

    queue = text(owner.get("/console/receipts/"))
    photo = owner.get(f"/console/receipts/{receipt.pk}/photo/")
    approved = owner.post(
        f"/console/receipts/{receipt.pk}/decide/",
        {"decision": "approve", "amount": "90.00", "method": "cash"},
    )
    again = owner.post(
        f"/console/receipts/{receipt.pk}/decide/", {"decision": "approve", "method": "cash"}
    )

    assert "R-9" in queue
    assert (photo.status_code, photo["Content-Type"]) == (200, "image/jpeg")
    assert photo.content == JPEG
    assert approved.status_code == again.status_code == 302
    sale = in_schema(mall_a, lambda: Sale.objects.get())
    assert (sale.channel, str(sale.total), sale.points_earned) == ("receipt", "90.00", 90)
    assert "这张小票已经审核过了。" in text(owner.get("/console/receipts/"))


def test_rejecting_a_receipt_needs_a_reason(staff_browser, member, mall_a, make_merchant):
    shop = make_merchant(mall_a)
    receipt = in_schema(
        mall_a,
        lambda: submit_receipt(
            member=member, merchant=shop.merchant, receipt_no="R-1", amount="9.00",
            occurred_on=timezone.localdate(), photo=JPEG,
        ),
    )  # fmt: skip
    owner = staff_browser("owner")

    owner.post(f"/console/receipts/{receipt.pk}/decide/", {"decision": "reject", "method": "cash"})
    assert in_schema(mall_a, lambda: Receipt.objects.get().status) == "pending"
    owner.post(
        f"/console/receipts/{receipt.pk}/decide/",
        {"decision": "reject", "method": "cash", "reason": "照片模糊"},
    )

    assert in_schema(mall_a, lambda: Receipt.objects.get().reason) == "照片模糊"


# --- program: tiers and rules ------------------------------------------------------------------


def test_an_operator_edits_a_tier(staff_browser, mall_a):
    marketing = staff_browser(StaffRole.MARKETING)

    response = marketing.post(
        "/console/program/tiers/gold/",
        {
            "name": "金卡会员", "rank": "3", "growth_threshold": "12000", "retention_growth": "9000",
            "points_multiplier": "1.60", "free_parking_hours": "3", "discount_percent": "5",
            "birthday_gift": "生日蛋糕券", "perks": "贵宾休息室\n专属客服\n",
        },
    )  # fmt: skip

    assert response["Location"] == "/console/program/"
    gold = in_schema(mall_a, lambda: Tier.objects.get(code="gold"))
    assert (gold.name, gold.growth_threshold, str(gold.points_multiplier), gold.perks) == (
        "金卡会员", 12000, "1.60", ["贵宾休息室", "专属客服"],
    )  # fmt: skip


def test_a_tier_that_breaks_the_order_is_refused(staff_browser, mall_a):
    response = staff_browser("owner").post(
        "/console/program/tiers/gold/",
        {"name": "金卡", "rank": "3", "growth_threshold": "100", "retention_growth": "0",
         "points_multiplier": "1.5", "free_parking_hours": "0", "discount_percent": "0"},
    )  # fmt: skip

    assert response.status_code == 400
    assert "等级无效" in text(response)
    assert in_schema(mall_a, lambda: Tier.objects.get(code="gold").growth_threshold) == 10000


def test_a_rule_is_drafted_previewed_backtested_and_published(
    staff_browser, mall_a, member, two_shops_sales
):
    first, _ = two_shops_sales
    owner = staff_browser("owner")
    today = timezone.localdate().isoformat()

    created = owner.post(
        "/console/program/rules/",
        {"name": "咖啡双倍", "kind": "rate", "points_per_yuan": "2", "multiplier": "1",
         "merchant": str(first.merchant.pk), "business_format": "", "category": "",
         "effective_from": today},
    )  # fmt: skip
    rule = in_schema(mall_a, lambda: EarningRule.objects.get(name="咖啡双倍"))
    preview = owner.post(
        f"/console/program/rules/{rule.pk}/",
        {"action": "preview", "merchant": str(first.merchant.pk), "total": "100.00",
         "method": "wechat", "tier": "silver", "category": "", "occurred_on": today},
    )  # fmt: skip
    backtest = owner.post(
        f"/console/program/rules/{rule.pk}/", {"action": "backtest", "days": "30"}
    )
    published = owner.post(f"/console/program/rules/{rule.pk}/", {"action": "publish"})

    assert created["Location"] == f"/console/program/rules/{rule.pk}/"
    # 100 × 2 points per ¥ at the merchant, × 1.2 for silver = 240.
    assert re.search(r'data-testid="preview-points">240<', text(preview))
    body = text(backtest)
    assert re.search(r"现行规则发放</div><div class=\"value\">230<", body)
    assert re.search(r"加入本规则后</div><div class=\"value\">260<", body)
    assert published.status_code == 302
    assert in_schema(mall_a, lambda: EarningRule.objects.get(pk=rule.pk).status) == "published"


def test_marketing_may_preview_but_finance_may_not_publish(staff_browser, mall_a):
    rule = in_schema(mall_a, lambda: EarningRule.objects.get(is_base=True))
    finance = staff_browser(StaffRole.FINANCE)

    listed = finance.get("/console/program/rules/")
    refused = finance.post(
        f"/console/program/rules/{rule.pk}/",
        {"action": "version", "effective_from": timezone.localdate().isoformat(),
         "points_per_yuan": "5"},
    )  # fmt: skip

    assert listed.status_code == 200
    assert 'data-testid="rule-form"' not in text(listed)
    assert refused.status_code == 403
    assert in_schema(mall_a, lambda: EarningRule.objects.count()) == 1
