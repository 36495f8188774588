"""The console: sales across merchants, CSV import, the rule preview and the backtest."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.services import invite_staff
from apps.imports.models import ImportJob
from apps.loyalty.choices import RuleKind, RuleStatus
from apps.loyalty.models import EarningRule
from apps.sales.models import Sale
from tests.apps.imports.jobs import import_file, upload
from tests.apps.sales.conftest import HOST_A, Pos, in_schema, sale_body, table_counts
from tests.conftest import PASSWORD, Api, login

SALES = "/api/console/v1/sales"


# --- listing ------------------------------------------------------------------------------------


def test_the_console_lists_every_merchants_sales_with_filters(
    console_a, pos, other_shop, member, mall_a
):
    pos.sale(sale_body("A-1", total="10.00", member={"member_no": member.member.member_no}))
    pos.sale(sale_body("A-2", total="20.00"))
    Pos(other_shop).sale(sale_body("B-1", total="30.00"))
    everything = console_a.get(SALES).json()["results"]
    assert [s["external_id"] for s in everything] == ["B-1", "A-2", "A-1"]
    by_shop = console_a.get(f"{SALES}?merchant_id={other_shop.merchant.pk}").json()["results"]
    by_member = console_a.get(f"{SALES}?member_id={member.member.pk}").json()["results"]
    assert ([s["external_id"] for s in by_shop], [s["external_id"] for s in by_member]) == (
        ["B-1"],
        ["A-1"],
    )
    today = timezone.localdate()
    tomorrow = today + dt.timedelta(days=1)
    assert len(console_a.get(f"{SALES}?date_from={today}&date_to={today}").json()["results"]) == 3
    assert console_a.get(f"{SALES}?date_from={tomorrow}").json()["results"] == []


def test_sales_pages_with_a_cursor(console_a, pos):
    for index in range(5):
        pos.sale(sale_body(f"P-{index}", total="1.00", occurred_at=_minutes_ago(10 - index)))
    first = console_a.get(f"{SALES}?page_size=2").json()
    second = console_a.get(f"{SALES}?page_size=2&cursor={first['next'].split('cursor=')[1]}").json()
    assert [s["external_id"] for s in first["results"]] == ["P-4", "P-3"]
    assert [s["external_id"] for s in second["results"]] == ["P-2", "P-1"]


def _minutes_ago(minutes):
    return (timezone.now() - dt.timedelta(minutes=minutes)).isoformat()


def test_the_console_reads_one_sale_and_404s_an_unknown_one(console_a, pos):
    sale_id = pos.sale(sale_body("D-1", total="12.00")).json()["sale_id"]
    detail = console_a.get(f"{SALES}/{sale_id}").json()
    assert (detail["external_id"], detail["payments"]) == (
        "D-1",
        [{"method": "cash", "amount": "12.00", "trade_no": ""}],
    )
    missing = console_a.get(f"{SALES}/00000000-0000-0000-0000-000000000000")
    assert (missing.status_code, missing.json()["code"]) == (404, "sales.not_found")


def test_finance_may_list_sales_but_not_import_them(mall_a, shop):
    with tenant_context(mall_a):
        invite_staff(username="fin", role=StaffRole.FINANCE, password=PASSWORD)
    connection.set_schema_to_public()
    api = Api(HOST_A)
    finance = api.as_token(login(api, "console", "fin")["access_token"])
    assert finance.get(SALES).status_code == 200
    content = b"external_id,occurred_at,total\nX-1,2026-01-01 10:00,1.00\n"
    refused = upload(finance, "sales", content, merchant_id=str(shop.merchant.pk))
    assert (refused.status_code, refused.json()["code"]) == (403, "auth.forbidden")
    assert in_schema(mall_a, Sale.objects.count) == 0


# --- CSV import ---------------------------------------------------------------------------------


def test_csv_import_records_good_rows_and_reports_bad_ones(console_a, shop, member, mall_a):
    # An hour ago, but today: the mall's earning rules take effect today (a sale of yesterday
    # earns nothing, which made this test fail in the first hour of the mall's day).
    now = timezone.localtime()
    earlier = max(now - dt.timedelta(hours=1), now.replace(hour=0, minute=0, second=0))
    when = earlier.strftime("%Y-%m-%d %H:%M:%S")
    content = (
        "小票号,交易时间,金额,支付方式,会员号,品类\n"
        f"IMP-1,{when},100.00,,{member.member.member_no},tea\n"
        f"IMP-2,{when},50.00,card:30;coupon:20,,\n"
        f"IMP-3,{when},12.345,,,\n"
        f"IMP-4,{when},10.00,cash:9,,\n"
        f"IMP-5,not a time,10.00,,,\n"
        f"IMP-6,{when},10.00,,M0000000000,\n"
        f"bad/id,{when},10.00,,,\n"
        "\n"
    ).encode("gb18030")
    job, errors = import_file(
        console_a, mall_a, "sales", content, merchant_id=str(shop.merchant.pk)
    )
    assert (job["status"], job["total_rows"], job["succeeded"], job["failed"]) == ("done", 7, 2, 5)
    assert errors == [
        (4, "total", "sales.invalid_amount"),
        (5, "", "sales.total_mismatch"),
        (6, "occurred_at", "sales.invalid"),
        (7, "", "members.not_found"),
        (8, "external_id", "sales.invalid"),
    ]
    with tenant_context(mall_a):
        imported = {s.external_id: s for s in Sale.objects.filter(channel="import")}
        assert sorted(imported) == ["IMP-1", "IMP-2"]
        assert (imported["IMP-1"].member_id, imported["IMP-1"].points_earned) == (
            member.member.pk,
            100,
        )
        assert imported["IMP-2"].eligible_amount == Decimal("30.00")
    connection.set_schema_to_public()
    again, _ = import_file(console_a, mall_a, "sales", content, merchant_id=str(shop.merchant.pk))
    # the two good rows were recorded already: they succeed again and nothing is recorded twice
    assert (again["succeeded"], again["failed"]) == (2, 5)
    assert in_schema(mall_a, lambda: Sale.objects.filter(channel="import").count()) == 2


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "sales.import_invalid"),
        (b"name,phone\nx,y\n", "sales.import_invalid"),
        (b"\xff\xfe\x00bad", "sales.import_invalid"),
    ],
)
def test_an_unreadable_import_is_refused_whole(console_a, shop, mall_a, content, code):
    counts = table_counts(mall_a)
    response = upload(console_a, "sales", content, merchant_id=str(shop.merchant.pk))
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert table_counts(mall_a) == counts
    assert in_schema(mall_a, ImportJob.objects.count) == 0


def test_an_import_for_an_unknown_merchant_is_404(console_a, mall_a):
    counts = table_counts(mall_a)
    response = upload(
        console_a,
        "sales",
        b"external_id,occurred_at,total\n",
        merchant_id="00000000-0000-0000-0000-000000000000",
    )
    assert (response.status_code, response.json()["code"]) == (404, "merchant.not_found")
    assert table_counts(mall_a) == counts


# --- rule preview and backtest -------------------------------------------------------------------


def _preview_body(shop, **fields):
    return {
        "merchant_id": str(shop.merchant.pk),
        "total": "100.00",
        "payments": [
            {"method": "cash", "amount": "80.00"},
            {"method": "points", "amount": "20.00"},
        ],
        **fields,
    }


def test_the_preview_says_what_a_sale_would_earn_and_why(console_a, shop, mall_a):
    counts = table_counts(mall_a)
    response = console_a.post("/api/console/v1/loyalty/preview", _preview_body(shop, tier="gold"))
    assert response.status_code == 200, response.content
    quote = response.json()
    # ¥80 of cash at 1 point per yuan, × 1.5 for the gold tier.
    assert (quote["points"], quote["growth"], quote["eligible_amount"], quote["multiplier"]) == (
        120,
        80,
        "80.00",
        "1.50",
    )
    assert [e["rule"] for e in quote["explanations"]] == ["payment", "基础积分", "金卡"]
    assert table_counts(mall_a) == counts


def test_the_preview_includes_a_draft_rule(console_a, shop, mall_a):
    with tenant_context(mall_a):
        draft = EarningRule.objects.create(
            name="double tea", kind=RuleKind.RATE, status=RuleStatus.DRAFT,
            points_per_yuan=Decimal(2), merchant_id=shop.merchant.pk,
            effective_from=timezone.localdate(),
        )  # fmt: skip
    connection.set_schema_to_public()
    body = _preview_body(shop, rule_ids=[str(draft.pk)])
    quote = console_a.post("/api/console/v1/loyalty/preview", body).json()
    assert quote["points"] == 160


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"total": "100.001"}, 400, "sales.invalid_amount"),
        ({"total": "99.00"}, 400, "sales.total_mismatch"),
        ({"tier": "platinum"}, 400, "sales.invalid"),
        ({"rule_ids": ["00000000-0000-0000-0000-000000000000"]}, 400, "sales.invalid"),
        ({"merchant_id": "00000000-0000-0000-0000-000000000000"}, 404, "merchant.not_found"),
        ({"member_id": "00000000-0000-0000-0000-000000000000"}, 404, "members.not_found"),
        ({"total": 100}, 422, "request.invalid"),
    ],
)
def test_bad_previews_are_refused(console_a, shop, change, status, code):
    response = console_a.post("/api/console/v1/loyalty/preview", _preview_body(shop, **change))
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_the_backtest_prices_a_rule_change_over_the_last_30_days(console_a, pos, member, mall_a):
    pos.sale(sale_body("BT-1", total="100.00", member={"member_no": member.member.member_no}))
    pos.sale(
        sale_body(
            "BT-2",
            total="50.00",
            items=[
                {"category": "wine", "amount": "30.00"},
                {"category": "food", "amount": "20.00"},
            ],
        )
    )
    with tenant_context(mall_a):
        old = Sale.objects.get(external_id="BT-1")
        Sale.objects.filter(pk=old.pk).update(occurred_at=timezone.now() - dt.timedelta(days=10))
    connection.set_schema_to_public()
    counts = table_counts(mall_a)
    proposal = {
        "rule": {"name": "wine ×3", "kind": "rate", "points_per_yuan": "3", "category": "wine"}
    }
    response = console_a.post("/api/console/v1/loyalty/backtest", proposal)
    assert response.status_code == 200, response.content
    result = response.json()
    # Before: 100 + 50 points. After: wine earns 3/¥ (90) instead of 1/¥ (30): +60 points.
    assert {k: result[k] for k in ("days", "sales", "points_before", "points_after")} == {
        "days": 30,
        "sales": 2,
        "points_before": 150,
        "points_after": 210,
    }
    # At the default point value of ¥0.01.
    assert (result["cost_before"], result["cost_after"], result["cost_delta"]) == (
        "1.50",
        "2.10",
        "0.60",
    )
    assert result["truncated"] is False
    assert table_counts(mall_a) == counts
    last_week = console_a.post("/api/console/v1/loyalty/backtest", {**proposal, "days": 7}).json()
    assert (last_week["sales"], last_week["points_delta"]) == (1, 60)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"days": 0}, 422, "request.invalid"),
        ({"days": 91}, 422, "request.invalid"),
        ({"rule": {"kind": "rate", "points_per_yuan": "-1"}}, 422, "request.invalid"),
        ({"rule_ids": ["00000000-0000-0000-0000-000000000000"]}, 400, "sales.invalid"),
    ],
)
def test_bad_backtests_are_refused(console_a, body, status, code):
    response = console_a.post("/api/console/v1/loyalty/backtest", body)
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_the_backtest_needs_the_program_permission(mall_a):
    with tenant_context(mall_a):
        invite_staff(username="cs", role=StaffRole.CUSTOMER_SERVICE, password=PASSWORD)
    connection.set_schema_to_public()
    api = Api(HOST_A)
    service = api.as_token(login(api, "console", "cs")["access_token"])
    response = service.post("/api/console/v1/loyalty/backtest", {})
    assert (response.status_code, response.json()["code"]) == (403, "auth.forbidden")
    assert in_schema(mall_a, Sale.objects.count) == 0
