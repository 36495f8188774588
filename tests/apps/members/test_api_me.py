"""Member API: profile, consents, member code, phone binding (auto-merge), export, closing."""

import datetime as dt

import pytest
from django_tenants.utils import tenant_context

from apps.loyalty.selectors import points_summary
from apps.loyalty.services import earn_points
from apps.members.choices import IdentityKind, RegistrationChannel
from apps.members.errors import MemberCodeReusedError
from apps.members.models import Member, MemberConsent, MemberIdentity, MemberMerge
from apps.members.services import NewIdentity, join_member, resolve_member_code
from tests.apps.members.conftest import OTHER_PHONE, PHONE, in_schema, last_otp


def _profile_row(mall, member):
    return in_schema(
        mall,
        lambda: Member.objects.values("name", "display_name", "gender", "birthday", "status").get(
            pk=member.pk
        ),
    )


def _wechat_member(mall, openid="openid-0001"):
    return in_schema(
        mall,
        lambda: (
            join_member(
                channel=RegistrationChannel.WECHAT,
                identities=[NewIdentity(IdentityKind.WECHAT_OPENID, openid, verified=True)],
            ).member
        ),
    )


# --- profile -------------------------------------------------------------------------------


def test_me_shows_the_profile_with_a_masked_phone(mall_a, member_api, phone_member):
    body = member_api(phone_member).get("/api/member/v1/me").json()
    assert {k: body[k] for k in ("member_no", "name", "phone", "gender", "birthday", "status")} == {
        "member_no": phone_member.member_no,
        "name": "王芳",
        "phone": "138****8000",
        "gender": "unknown",
        "birthday": None,
        "status": "active",
    }
    assert body["consents"] == {
        "data_processing": False,
        "marketing": False,
        "third_party_sharing": False,
    }
    assert (body["registration_channel"], body["tenant"]) == ("till", "mall-a")
    loyalty = body["loyalty"]
    assert (loyalty["balance"], loyalty["spendable"], loyalty["growth"]) == (0, 0, 0)
    assert (
        loyalty["tier"]["name"],
        loyalty["next_tier"]["name"],
        loyalty["growth_to_next_tier"],
    ) == (
        "普卡",
        "银卡",
        2000,
    )


def test_patch_me_updates_the_profile(mall_a, member_api, phone_member):
    api = member_api(phone_member)
    response = api.patch(
        "/api/member/v1/me",
        {"name": "王芳芳", "display_name": "Fang", "gender": "female", "birthday": "1992-02-29"},
    )
    assert response.status_code == 200, response.content
    assert _profile_row(mall_a, phone_member) == {
        "name": "王芳芳",
        "display_name": "Fang",
        "gender": "female",
        "birthday": dt.date(1992, 2, 29),
        "status": "active",
    }
    # only the fields sent change
    api.patch("/api/member/v1/me", {"display_name": "F"})
    assert _profile_row(mall_a, phone_member)["name"] == "王芳芳"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"gender": "other"}, 422, "request.invalid"),
        ({"birthday": "1992-02-30"}, 422, "request.invalid"),
        ({"name": "x" * 101}, 422, "request.invalid"),
        ({"birthday": "2999-01-01"}, 400, "members.profile_invalid"),
        ({"birthday": "1850-01-01"}, 400, "members.profile_invalid"),
    ],
)
def test_bad_profile_updates_change_nothing(mall_a, member_api, phone_member, body, status, code):
    before = _profile_row(mall_a, phone_member)
    response = member_api(phone_member).patch("/api/member/v1/me", body)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert _profile_row(mall_a, phone_member) == before


def test_birthday_is_set_once_by_the_member(mall_a, member_api, phone_member):
    api = member_api(phone_member)
    assert api.patch("/api/member/v1/me", {"birthday": "1990-05-01"}).status_code == 200
    changed = api.patch("/api/member/v1/me", {"birthday": "1990-06-01"})
    assert (changed.status_code, changed.json()["code"]) == (409, "members.birthday_locked")
    assert str(_profile_row(mall_a, phone_member)["birthday"]) == "1990-05-01"


def test_consents_are_recorded_as_history(mall_a, member_api, phone_member):
    api = member_api(phone_member)
    first = api.put("/api/member/v1/me/consents", {"consents": {"marketing": True}})
    assert (first.status_code, first.json()["consents"]["marketing"]) == (200, True)
    second = api.put(
        "/api/member/v1/me/consents", {"consents": {"marketing": False, "data_processing": True}}
    )
    assert second.json()["consents"] == {
        "data_processing": True,
        "marketing": False,
        "third_party_sharing": False,
    }
    rows = in_schema(
        mall_a,
        lambda: list(
            MemberConsent.objects.filter(member=phone_member)
            .order_by("at", "kind")
            .values_list("kind", "granted", "source")
        ),
    )
    assert rows == [
        ("marketing", True, "app"),
        ("data_processing", True, "app"),
        ("marketing", False, "app"),
    ]


@pytest.mark.parametrize(
    "body", [{"consents": {}}, {"consents": {"spam": True}}, {"consents": []}, {}]
)
def test_bad_consent_updates_change_nothing(mall_a, member_api, phone_member, body):
    response = member_api(phone_member).put("/api/member/v1/me/consents", body)
    assert (response.status_code, response.json()["code"]) == (422, "request.invalid")
    assert in_schema(mall_a, lambda: MemberConsent.objects.count()) == 0


# --- member code -----------------------------------------------------------------------------


def test_member_code_identifies_the_member_once(mall_a, member_api, phone_member):
    body = member_api(phone_member).get("/api/member/v1/code").json()
    assert body["code"] == body["qr_payload"] == body["barcode"]
    assert (len(body["code"]), body["code"][:11]) == (18, "9" + phone_member.member_no[1:])
    assert 1 <= body["expires_in"] <= 60
    with tenant_context(mall_a):
        assert resolve_member_code(body["code"]) == phone_member
        with pytest.raises(MemberCodeReusedError) as reused:
            resolve_member_code(body["code"])
    assert reused.value.code == "members.code_reused"


# --- phone binding and automatic merge --------------------------------------------------------


def _send_otp(api, phone):
    assert api.post("/api/member/v1/auth/otp", {"phone": phone}).status_code == 200


def test_binding_a_free_phone_adds_it(mall_a, member_api):
    member = _wechat_member(mall_a)
    api = member_api(member)
    _send_otp(api, OTHER_PHONE)
    response = api.post(
        "/api/member/v1/me/phone", {"phone": OTHER_PHONE, "otp": last_otp(OTHER_PHONE)}
    )
    assert response.json() == {
        "member_id": str(member.pk),
        "member_no": member.member_no,
        "merged": False,
        "tokens": None,
    }
    assert api.get("/api/member/v1/me").json()["phone"] == "139****9000"


def test_a_verified_phone_of_another_member_merges_automatically(mall_a, member_api, phone_member):
    wechat_member = _wechat_member(mall_a)
    with tenant_context(mall_a):
        earn_points(member=wechat_member, points=40, idempotency_key="wx-earn")
        earn_points(member=phone_member, points=60, idempotency_key="till-earn")
    api = member_api(wechat_member)
    _send_otp(api, PHONE)
    response = api.post("/api/member/v1/me/phone", {"phone": PHONE, "otp": last_otp(PHONE)})
    body = response.json()
    assert (response.status_code, body["merged"], body["member_id"]) == (
        200,
        True,
        str(phone_member.pk),
    )
    # the old login is over, the new pair opens the surviving member
    assert api.get("/api/member/v1/me").status_code == 401
    me = api.as_token(body["tokens"]["access_token"]).get("/api/member/v1/me").json()
    assert me["member_no"] == phone_member.member_no
    with tenant_context(mall_a):
        merge = MemberMerge.objects.get(source=wechat_member)
        kinds = sorted(
            MemberIdentity.objects.filter(member=phone_member).values_list("kind", flat=True)
        )
        assert (merge.automatic, merge.target_id, merge.actor) == (
            True,
            phone_member.pk,
            f"member:{wechat_member.pk}",
        )
        assert kinds == ["phone", "wechat_openid"]
        assert MemberIdentity.objects.get(kind="phone").verified_at is not None
        assert points_summary(member=phone_member).balance == 100


def test_binding_with_a_wrong_code_changes_nothing(mall_a, member_api, phone_member):
    member = _wechat_member(mall_a)
    api = member_api(member)
    _send_otp(api, PHONE)
    wrong = f"{(int(last_otp(PHONE)) + 1) % 10**6:06d}"
    response = api.post("/api/member/v1/me/phone", {"phone": PHONE, "otp": wrong})
    assert (response.status_code, response.json()["code"]) == (401, "members.otp_invalid")
    assert in_schema(
        mall_a, lambda: (MemberMerge.objects.count(), MemberIdentity.objects.count())
    ) == (0, 2)


# --- export and closing ----------------------------------------------------------------------


def test_export_returns_the_members_data(mall_a, member_api, phone_member):
    response = member_api(phone_member).get("/api/member/v1/me/export")
    body = response.json()
    assert response.status_code == 200
    assert body["member"]["member_no"] == phone_member.member_no
    assert [(i["kind"], i["value"]) for i in body["identities"]] == [("phone", PHONE)]
    assert body["loyalty"]["points_entries"] == []


def test_closing_needs_confirmation_and_a_code(mall_a, member_api, phone_member):
    api = member_api(phone_member)
    no_confirm = api.post("/api/member/v1/me/close", {"confirm": False})
    assert (no_confirm.status_code, no_confirm.json()["code"], no_confirm.json()["extra"]) == (
        400,
        "members.confirmation_required",
        {"needs": "confirm"},
    )
    no_code = api.post("/api/member/v1/me/close", {"confirm": True})
    assert (no_code.status_code, no_code.json()["extra"]) == (400, {"needs": "otp"})
    assert api.post("/api/member/v1/me/otp").status_code == 200
    wrong = f"{(int(last_otp(PHONE)) + 1) % 10**6:06d}"
    refused = api.post("/api/member/v1/me/close", {"confirm": True, "otp": wrong})
    assert (refused.status_code, refused.json()["code"]) == (401, "members.otp_invalid")
    assert _profile_row(mall_a, phone_member)["status"] == "active"

    closed = api.post("/api/member/v1/me/close", {"confirm": True, "otp": last_otp(PHONE)})

    assert closed.json() == {"member_no": phone_member.member_no, "status": "closed"}
    assert _profile_row(mall_a, phone_member) == {
        "name": "",
        "display_name": "",
        "gender": "unknown",
        "birthday": None,
        "status": "closed",
    }
    assert in_schema(mall_a, lambda: MemberIdentity.objects.count()) == 0
    after = api.get("/api/member/v1/me")
    assert (after.status_code, after.json()["code"]) == (401, "auth.unauthenticated")


def test_a_member_without_a_phone_closes_with_confirm(mall_a, member_api):
    member = _wechat_member(mall_a)
    api = member_api(member)
    no_phone = api.post("/api/member/v1/me/otp")
    assert (no_phone.status_code, no_phone.json()["code"]) == (409, "members.no_phone")
    closed = api.post("/api/member/v1/me/close", {"confirm": True})
    assert closed.json()["status"] == "closed"


def test_member_endpoints_need_a_member_token(mall_a, member_api, console_a):
    for method, path in (
        ("GET", "/api/member/v1/me"),
        ("PATCH", "/api/member/v1/me"),
        ("GET", "/api/member/v1/code"),
        ("GET", "/api/member/v1/me/export"),
        ("POST", "/api/member/v1/me/close"),
    ):
        anonymous = member_api().request(method, path, {} if method != "GET" else None)
        staff = console_a.request(method, path, {} if method != "GET" else None)
        assert (anonymous.status_code, staff.status_code) == (401, 401), path
