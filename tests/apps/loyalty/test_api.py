"""Loyalty endpoints: program editors, ledgers seen by operators, the member's points."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.services import invite_staff
from apps.loyalty.models import EarningRule, PointsAccount
from apps.loyalty.services import ledger
from apps.members.services import create_member, issue_member_tokens
from tests.conftest import PASSWORD, Api, host_of, login


@pytest.fixture
def member_a(mall_a):
    with tenant_context(mall_a):
        member = create_member(display_name="Mei")
        ledger.earn_points(
            member=member,
            points=300,
            idempotency_key="seed",
            source_type="sale",
            source_id="s",
            pending_days=0,
        )
        token = issue_member_tokens(member=member).access_token
    connection.set_schema_to_public()
    return member, Api(host_of("mall-a"), token)


def _staff(mall, role, username):
    with tenant_context(mall):
        invite_staff(username=username, role=role, password=PASSWORD)
    connection.set_schema_to_public()
    api = Api(host_of(mall.slug))
    return api.as_token(login(api, "console", username)["access_token"])


def test_program_settings_read_and_change(console_a):
    assert console_a.get("/api/console/v1/loyalty/settings").json()["point_value"] == "0.0100"
    changed = console_a.patch(
        "/api/console/v1/loyalty/settings", {"pending_days": 7, "point_value": "0.02"}
    )
    assert (changed.status_code, changed.json()["pending_days"], changed.json()["point_value"]) == (
        200,
        7,
        "0.0200",
    )
    bad = console_a.patch("/api/console/v1/loyalty/settings", {"pending_days": -1})
    assert (bad.status_code, bad.json()["code"]) == (422, "request.invalid")


def test_seeded_tiers_are_listed_and_editable(console_a):
    tiers = console_a.get("/api/console/v1/loyalty/tiers").json()
    assert [(t["name"], t["growth_threshold"]) for t in tiers] == [
        ("普卡", 0),
        ("银卡", 2000),
        ("金卡", 10000),
        ("钻石卡", 50000),
    ]
    body = {
        "name": "金卡 Gold",
        "rank": 3,
        "growth_threshold": 12000,
        "retention_growth": 9000,
        "points_multiplier": "1.60",
        "perks": ["贵宾休息室"],
    }
    saved = console_a.put("/api/console/v1/loyalty/tiers/gold", body)
    assert (saved.json()["name"], saved.json()["points_multiplier"]) == ("金卡 Gold", "1.60")
    bad = console_a.put("/api/console/v1/loyalty/tiers/gold", {**body, "growth_threshold": 60000})
    assert (bad.status_code, bad.json()["code"]) == (400, "loyalty.tier_invalid")


def test_a_rule_is_drafted_then_published_and_versions_keep_history(console_a, mall_a):
    today = timezone.localdate()
    draft = console_a.post(
        "/api/console/v1/loyalty/rules",
        {
            "name": "会员日双倍",
            "kind": "multiplier",
            "multiplier": "2",
            "weekdays": [3],
            "effective_from": str(today),
        },
    )
    assert (draft.status_code, draft.json()["status"]) == (201, "draft")
    published = console_a.post(f"/api/console/v1/loyalty/rules/{draft.json()['id']}/publish")
    assert published.json()["status"] == "published"
    again = console_a.post(f"/api/console/v1/loyalty/rules/{draft.json()['id']}/publish")
    assert (again.status_code, again.json()["code"]) == (400, "loyalty.rule_invalid")
    tomorrow = today + dt.timedelta(days=1)
    version = console_a.post(
        f"/api/console/v1/loyalty/rules/{draft.json()['id']}/versions",
        {"effective_from": str(tomorrow), "multiplier": "3"},
    )
    console_a.post(f"/api/console/v1/loyalty/rules/{version.json()['id']}/publish")
    with tenant_context(mall_a):
        old = EarningRule.objects.get(pk=draft.json()["id"])
        assert (old.effective_to, str(old.multiplier)) == (today, "2.00")
        assert EarningRule.objects.get(pk=version.json()["id"]).supersedes_id == old.pk


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "x", "kind": "cap", "effective_from": "2026-12-01"}, "loyalty.rule_invalid"),
        ({"name": "x", "weekdays": [8], "effective_from": "2026-12-01"}, "loyalty.rule_invalid"),
        (
            {"name": "x", "effective_from": "2026-12-01", "effective_to": "2026-11-01"},
            "loyalty.rule_invalid",
        ),
        ({"name": "x", "points_per_yuan": "-1", "effective_from": "2026-12-01"}, "request.invalid"),
        ({"name": "x", "points_per_yuan": 1.5, "effective_from": "2026-12-01"}, None),
    ],
)
def test_bad_rules_are_refused_and_nothing_is_written(console_a, mall_a, body, code):
    with tenant_context(mall_a):
        before = EarningRule.objects.count()
    connection.set_schema_to_public()
    response = console_a.post("/api/console/v1/loyalty/rules", body)
    if code is None:
        assert response.status_code == 201  # a JSON number with two decimals is read exactly
        return
    assert response.json()["code"] == code
    with tenant_context(mall_a):
        assert EarningRule.objects.count() == before


def test_marketing_edits_rules_but_cannot_adjust_points(mall_a, member_a):
    marketing = _staff(mall_a, StaffRole.MARKETING, "mk")
    member, _ = member_a
    assert (
        marketing.patch("/api/console/v1/loyalty/settings", {"pending_days": 1}).status_code == 200
    )
    refused = marketing.post(
        "/api/console/v1/loyalty/adjustments",
        {"member_id": str(member.pk), "points": 5, "reason": "x"},
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "auth.forbidden")


def test_adjustment_with_approval_through_the_api(mall_a, member_a):
    member, _ = member_a
    service = _staff(mall_a, StaffRole.CUSTOMER_SERVICE, "cs")
    finance = _staff(mall_a, StaffRole.FINANCE, "fin")
    made = service.post(
        "/api/console/v1/loyalty/adjustments",
        {"member_id": str(member.pk), "points": 2000, "reason": "补录"},
    )
    assert (made.status_code, made.json()["status"]) == (201, "pending")
    queue = service.get("/api/console/v1/loyalty/adjustments?status=pending").json()["results"]
    assert [a["id"] for a in queue] == [made.json()["id"]]
    approved = finance.post(f"/api/console/v1/loyalty/adjustments/{made.json()['id']}/approve")
    assert approved.json()["status"] == "applied"
    points = service.get(f"/api/console/v1/loyalty/members/{member.pk}/points").json()
    assert points["balance"] == 2300


def test_operator_sees_a_members_ledgers(console_a, member_a):
    member, _ = member_a
    entries = console_a.get(f"/api/console/v1/loyalty/members/{member.pk}/entries").json()[
        "results"
    ]
    assert [(e["kind"], e["points"]) for e in entries] == [("earn", 300)]
    changes = console_a.get(f"/api/console/v1/loyalty/members/{member.pk}/tier-changes").json()
    assert changes == []


def test_member_sees_points_entries_and_tier_progress(member_a):
    _, api = member_a
    points = api.get("/api/member/v1/points").json()
    assert (points["balance"], points["spendable"], points["pending"]) == (300, 300, 0)
    assert (points["tier"]["name"], points["next_tier"]["name"], points["growth_to_next_tier"]) == (
        "普卡",
        "银卡",
        2000,
    )
    entries = api.get("/api/member/v1/points/entries").json()
    assert [e["points"] for e in entries["results"]] == [300]


def test_member_check_in_and_activity(member_a, mall_a):
    member, api = member_a
    first = api.post("/api/member/v1/check-ins").json()
    second = api.post("/api/member/v1/check-ins").json()
    assert (first, second) == ({"awarded": 5, "balance": 305}, {"awarded": 0, "balance": 305})
    today = str(timezone.localdate())
    walked = api.post(
        "/api/member/v1/activities", {"kind": "steps", "quantity": 12000, "day": today}
    ).json()
    assert walked == {"awarded": 12, "balance": 317}
    bad = api.post("/api/member/v1/activities", {"kind": "check_in", "quantity": 1, "day": today})
    assert (bad.status_code, bad.json()["code"]) == (400, "loyalty.invalid_points")
    with tenant_context(mall_a):
        assert PointsAccount.objects.get(member=member).balance == 317
