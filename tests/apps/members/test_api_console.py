"""Console member endpoints: search, detail with masking by role, merge, CSV import."""

import uuid

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.imports.models import ImportJob
from apps.members.choices import IdentityKind, RegistrationChannel
from apps.members.models import Member, MemberIdentity, MemberMerge
from apps.members.selectors import find_member
from apps.members.services import NewIdentity, join_member
from tests.apps.imports.jobs import import_file, upload
from tests.apps.members.conftest import OTHER_PHONE, PHONE, in_schema


def _join(mall, phone, name="", card=None):
    identities = [NewIdentity(IdentityKind.CARD, card)] if card else ()
    return in_schema(
        mall,
        lambda: (
            join_member(
                channel=RegistrationChannel.TILL, phone=phone, name=name, identities=identities
            ).member
        ),
    )


# --- search and detail -----------------------------------------------------------------------


def test_search_by_member_number_phone_and_card(mall_a, console_a):
    wang = _join(mall_a, PHONE, "王芳", card="VIP-1")
    li = _join(mall_a, OTHER_PHONE, "李雷")
    everyone = console_a.get("/api/console/v1/members").json()
    assert [m["member_no"] for m in everyone["results"]] == [li.member_no, wang.member_no]
    for query in (
        f"member_no={wang.member_no}",
        "phone=%2B86%20138%200013%208000",
        "card=vip-1",
    ):
        found = console_a.get(f"/api/console/v1/members?{query}").json()["results"]
        assert [(m["member_no"], m["name"], m["phone"]) for m in found] == [
            (wang.member_no, "王芳", PHONE)
        ], query
    assert console_a.get("/api/console/v1/members?phone=13700000000").json()["results"] == []


def test_search_with_a_malformed_phone(mall_a, console_a):
    response = console_a.get("/api/console/v1/members?phone=12")
    assert (response.status_code, response.json()["code"]) == (400, "members.phone_invalid")


@pytest.mark.parametrize(
    ("role", "clear"),
    [
        (StaffRole.ADMIN, True),
        (StaffRole.CUSTOMER_SERVICE, True),
        (StaffRole.MARKETING, False),
        (StaffRole.FINANCE, False),
    ],
)
def test_personal_data_is_masked_without_the_permission(mall_a, staff_api, role, clear):
    member = _join(mall_a, PHONE, "王芳", card="VIP-12345")
    api = staff_api(role)
    listed = api.get("/api/console/v1/members").json()["results"][0]
    detail = api.get(f"/api/console/v1/members/{member.pk}").json()
    expected_phone = PHONE if clear else "138****8000"
    assert (listed["phone"], detail["phone"], detail["personal_data_visible"]) == (
        expected_phone,
        expected_phone,
        clear,
    )
    assert [(i["kind"], i["value"]) for i in detail["identities"]] == [
        ("phone", expected_phone),
        ("card", "VIP-12345" if clear else "****2345"),
    ]


def test_member_detail(mall_a, console_a):
    source = _join(mall_a, OTHER_PHONE)
    target = _join(mall_a, PHONE, "王芳")
    console_a.post(
        "/api/console/v1/members/merges",
        {"source_member_id": str(source.pk), "target_member_id": str(target.pk), "reason": "dup"},
    )
    detail = console_a.get(f"/api/console/v1/members/{target.pk}").json()
    assert (detail["member_no"], detail["status"], detail["registration_channel"]) == (
        target.member_no,
        "active",
        "till",
    )
    assert [(m["source"]["member_no"], m["reason"]) for m in detail["merges"]] == [
        (source.member_no, "dup")
    ]
    merged = console_a.get(f"/api/console/v1/members/{source.pk}").json()
    assert (merged["status"], merged["merged_into"]["member_no"], merged["identities"]) == (
        "merged",
        target.member_no,
        [],
    )


def test_unknown_member_is_not_found(mall_a, console_a):
    response = console_a.get(f"/api/console/v1/members/{uuid.uuid4()}")
    assert (response.status_code, response.json()["code"]) == (404, "members.not_found")


# --- merge -----------------------------------------------------------------------------------


def _merge(api, source, target, reason="同一顾客", **headers):
    return api.post(
        "/api/console/v1/members/merges",
        {"source_member_id": str(source.pk), "target_member_id": str(target.pk), "reason": reason},
        headers=headers or None,
    )


def test_operator_merges_with_a_reason(mall_a, console_a):
    source = _join(mall_a, OTHER_PHONE, card="C-0001")
    target = _join(mall_a, PHONE)
    response = _merge(console_a, source, target, **{"Idempotency-Key": "merge-1"})
    body = response.json()
    assert response.status_code == 201, body
    assert (body["source"]["member_no"], body["target"]["member_no"], body["reason"]) == (
        source.member_no,
        target.member_no,
        "同一顾客",
    )
    assert (body["identities_moved"], body["automatic"], body["actor"].startswith("staff:")) == (
        2,
        False,
        True,
    )
    # a retry with the same key answers the same, and merges nothing twice
    again = _merge(console_a, source, target, **{"Idempotency-Key": "merge-1"})
    assert (again.status_code, again.json()) == (201, body)
    with tenant_context(mall_a):
        assert MemberMerge.objects.count() == 1
        assert find_member(card="C-0001") == target
        # every identifier is still held by exactly one member
        assert MemberIdentity.objects.filter(member=target).count() == 3
        assert MemberIdentity.objects.values("kind", "value_hash").distinct().count() == 3


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("same", 409, "members.merge_invalid"),
        ("unknown", 404, "members.not_found"),
        ("no_reason", 422, "request.invalid"),
        ("bad_id", 422, "request.invalid"),
    ],
)
def test_bad_merges_change_nothing(mall_a, console_a, case, status, code):
    a = _join(mall_a, PHONE)
    b = _join(mall_a, OTHER_PHONE)
    body = {"source_member_id": str(a.pk), "target_member_id": str(b.pk), "reason": "dup"}
    if case == "same":
        body["target_member_id"] = str(a.pk)
    elif case == "unknown":
        body["target_member_id"] = str(uuid.uuid4())
    elif case == "no_reason":
        body["reason"] = ""
    else:
        body["source_member_id"] = "M123"
    response = console_a.post("/api/console/v1/members/merges", body)
    assert (response.status_code, response.json()["code"]) == (status, code)
    with tenant_context(mall_a):
        assert MemberMerge.objects.count() == 0
        assert Member.objects.filter(status="active").count() == 2


def test_merging_a_member_of_another_mall_is_not_found(mall_a, mall_b, console_a):
    a = _join(mall_a, PHONE)
    b = _join(mall_b, OTHER_PHONE)
    response = _merge(console_a, a, b)
    assert (response.status_code, response.json()["code"]) == (404, "members.not_found")
    assert in_schema(mall_b, lambda: Member.objects.get(pk=b.pk).status) == "active"


def test_merge_needs_the_manage_permission(mall_a, staff_api):
    a = _join(mall_a, PHONE)
    b = _join(mall_a, OTHER_PHONE)
    response = _merge(staff_api(StaffRole.MARKETING), a, b)
    assert response.json() == {
        "code": "auth.forbidden",
        "message": "your role does not allow this",
        "extra": {"permission": "members.manage", "role": "marketing"},
    }
    assert _merge(staff_api(StaffRole.CUSTOMER_SERVICE), a, b).status_code == 201


# --- CSV import ------------------------------------------------------------------------------


def _import(api, mall, content):
    job, errors = import_file(api, mall, "members", content, name="members.csv")
    counts = (job["status"], job["total_rows"], job["processed"], job["succeeded"], job["failed"])
    return counts, errors


def test_import_creates_members_and_reports_bad_rows(mall_a, console_a):
    existing = _join(mall_a, "13700137000", "老会员")
    csv = (
        "手机号,姓名,生日,性别,卡号\n"
        "13800138000,王芳,1990-05-01,女,VIP-1\n"
        "+86 139 0013 9000,李雷,1988/12/31,男,\n"
        "13700137000,改名无效,,,\n"
        "12345,坏号码,1990-01-01,,\n"
        "13600136000,坏生日,1990-13-01,外星,\n"
        "13500135000,卡号重复,,,VIP-1\n"
        ",,,,\n"
    ).encode()
    counts, errors = _import(console_a, mall_a, csv)
    # 2 new members and 1 existing one succeed; 3 rows fail
    assert counts == ("done", 6, 6, 3, 3)
    assert errors == [
        (5, "phone", "members.phone_invalid"),
        (6, "birthday", "members.profile_invalid"),
        (6, "gender", "members.profile_invalid"),
        (7, "card", "members.identity_taken"),
    ]
    with tenant_context(mall_a):
        wang = find_member(card="VIP-1")
        li = find_member(phone=OTHER_PHONE)
        assert (wang.name, str(wang.birthday), wang.gender, wang.registration_channel) == (
            "王芳",
            "1990-05-01",
            "female",
            "import",
        )
        assert (li.name, str(li.birthday), li.gender) == ("李雷", "1988-12-31", "male")
        assert Member.objects.get(pk=existing.pk).name == "老会员"
        assert Member.objects.count() == 3
    # importing the same file again creates nobody twice
    again, _ = _import(console_a, mall_a, csv)
    assert again == ("done", 6, 6, 3, 3)
    assert in_schema(mall_a, Member.objects.count) == 3


def test_import_reads_gb18030_and_english_headers(mall_a, console_a):
    csv = "phone,name,birthday\n13800138000,王芳,19900501\n".encode("gb18030")
    assert _import(console_a, mall_a, csv) == (("done", 1, 1, 1, 0), [])
    assert in_schema(mall_a, lambda: find_member(phone=PHONE).name) == "王芳"


@pytest.mark.parametrize(
    "content",
    [b"", b"name,birthday\nWang,1990-01-01\n", b"\xff\xfe\x00\x00garbage\x81"],
)
def test_unusable_files_are_refused_whole(mall_a, console_a, content):
    response = upload(console_a, "members", content)
    assert (response.status_code, response.json()["code"]) == (400, "members.import_invalid")
    assert in_schema(mall_a, ImportJob.objects.count) == 0
    assert in_schema(mall_a, Member.objects.count) == 0


def test_import_needs_the_manage_permission(mall_a, staff_api):
    response = upload(staff_api(StaffRole.FINANCE), "members", b"phone\n13800138000\n")
    assert (response.status_code, response.json()["code"]) == (403, "auth.forbidden")
    assert in_schema(mall_a, Member.objects.count) == 0
