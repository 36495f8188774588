"""Member API: SMS codes (rate limits, attempts, never logged) and login that joins."""

import json
import logging

import pytest
from django.core.cache import cache
from django_tenants.utils import tenant_context

from apps.members.models import Member, MemberConsent, MemberIdentity
from apps.members.services import otp as otp_service
from atrium.logging import JsonFormatter
from integrations.sms.client import memory_outbox
from tests.apps.members.conftest import OTHER_PHONE, PHONE, in_schema, last_otp


def _member_count(mall):
    return in_schema(mall, lambda: (Member.objects.count(), MemberIdentity.objects.count()))


def _send(api, phone=PHONE):
    return api.post("/api/member/v1/auth/otp", {"phone": phone})


def _login(api, phone=PHONE, otp=None, **extra):
    return api.post(
        "/api/member/v1/auth/login",
        {"phone": phone, "otp": otp if otp is not None else last_otp(phone), **extra},
    )


def _forget_cooldown(mall, phone):
    with tenant_context(mall):
        cache.delete(otp_service._keys(phone)["cooldown"])


# --- sending codes ---------------------------------------------------------------------------


def test_a_code_is_texted_and_stored_only_as_a_hash(mall_a, member_api):
    response = _send(member_api(), "+86 138 0013 8000")
    assert (response.status_code, response.json()) == (200, {"expires_in": 300, "resend_after": 60})
    (message,) = memory_outbox.messages
    code = message.params["code"]
    assert (message.phone, message.template, len(code), code.isdigit()) == (PHONE, "otp", 6, True)
    assert message.text == f"【Mall A】您的验证码是{code}，5分钟内有效。请勿告诉他人。"
    with tenant_context(mall_a):
        key = otp_service._keys(PHONE)["code"]
        stored = cache.get(key)
        ttl = cache._cache.get_client(write=False).ttl(cache.make_key(key))
    assert code not in stored
    assert PHONE not in stored
    assert 295 <= ttl <= 300


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"phone": "12345"}, 400, "members.phone_invalid"),
        ({"phone": "+1 415 555 0100"}, 400, "members.phone_invalid"),
        ({}, 422, "request.invalid"),
        ({"phone": 13800138000}, 422, "request.invalid"),
        ({"phone": "1" * 40}, 422, "request.invalid"),
    ],
)
def test_bad_phones_send_nothing(mall_a, member_api, body, status, code):
    response = member_api().post("/api/member/v1/auth/otp", body)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert memory_outbox.messages == []


def test_one_code_per_phone_per_minute(mall_a, member_api):
    api = member_api()
    assert _send(api).status_code == 200
    again = _send(api)
    assert (again.status_code, again.json()) == (
        429,
        {
            "code": "members.otp_rate_limited",
            "message": "a code was sent moments ago",
            "extra": {"scope": "phone", "retry_after": 60},
        },
    )
    assert len(memory_outbox.messages) == 1
    assert _send(api, OTHER_PHONE).status_code == 200  # another phone is not held back


def test_ten_codes_per_phone_per_day(mall_a, member_api):
    api = member_api()
    for _ in range(10):
        assert _send(api).status_code == 200
        _forget_cooldown(mall_a, PHONE)
    refused = _send(api)
    assert (refused.status_code, refused.json()["code"], refused.json()["extra"]) == (
        429,
        "members.otp_rate_limited",
        {"scope": "phone_day"},
    )
    assert len(memory_outbox.to(PHONE)) == 10


def test_thirty_codes_per_ip_per_hour(mall_a, member_api):
    api = member_api()
    for index in range(30):
        assert _send(api, f"1390000{index:04d}").status_code == 200
    refused = _send(api, "13911112222")
    assert (refused.status_code, refused.json()["extra"]) == (429, {"scope": "ip"})
    assert len(memory_outbox.messages) == 30


def test_sms_failure_answers_503_and_allows_a_retry(mall_a, member_api, settings, tmp_path):
    settings.SMS_BACKEND = "aliyun"
    settings.SMS_ALIYUN_ENDPOINT = "http://127.0.0.1:9/"  # nothing listens on the discard port
    settings.SMS_ALIYUN_ACCESS_KEY_ID = "LTAI-test"
    settings.SMS_ALIYUN_ACCESS_KEY_SECRET = "secret"
    settings.SMS_ALIYUN_SIGN_NAME = "Atrium"
    settings.SMS_ALIYUN_TEMPLATES = {"otp": "SMS_1"}
    failed = _send(member_api())
    assert (failed.status_code, failed.json()["code"], failed.json()["extra"]) == (
        503,
        "sms.unavailable",
        {"retryable": True},
    )
    settings.SMS_BACKEND = "memory"
    assert _send(member_api()).status_code == 200  # the failed send did not start the cooldown


# --- logging in ------------------------------------------------------------------------------


def test_first_login_joins_with_consents_and_the_token_works(mall_a, member_api):
    api = member_api()
    _send(api)
    response = _login(api, consents={"data_processing": True, "marketing": True})
    body = response.json()
    assert response.status_code == 200, body
    assert (body["created"], body["token_type"], body["expires_in"]) == (True, "Bearer", 900)
    with tenant_context(mall_a):
        member = Member.objects.get(pk=body["member_id"])
        identity = MemberIdentity.objects.get(member=member)
        consents = sorted(
            MemberConsent.objects.filter(member=member).values_list("kind", "granted", "source")
        )
    assert (member.member_no, member.registration_channel) == (body["member_no"], "app")
    assert (identity.kind, identity.verified_at is not None) == ("phone", True)
    assert consents == [("data_processing", True, "app"), ("marketing", True, "app")]
    me = api.as_token(body["access_token"]).get("/api/member/v1/me")
    assert (me.status_code, me.json()["member_no"], me.json()["phone"]) == (
        200,
        member.member_no,
        "138****8000",
    )


def test_next_login_finds_the_member_a_till_enrolled(mall_a, member_api, phone_member):
    api = member_api()
    _send(api)
    body = _login(api).json()
    assert (body["created"], body["member_id"]) == (False, str(phone_member.pk))
    with tenant_context(mall_a):
        assert MemberIdentity.objects.get(member=phone_member).verified_at is not None


def test_wrong_code_is_refused_and_joins_nobody(mall_a, member_api):
    api = member_api()
    _send(api)
    before = _member_count(mall_a)
    wrong = f"{(int(last_otp(PHONE)) + 1) % 10**6:06d}"
    response = _login(api, otp=wrong)
    assert (response.status_code, response.json()) == (
        401,
        {
            "code": "members.otp_invalid",
            "message": "the code is wrong",
            "extra": {"attempts_left": 4},
        },
    )
    assert _member_count(mall_a) == before


def test_five_attempts_then_the_code_is_burnt(mall_a, member_api):
    api = member_api()
    _send(api)
    right = last_otp(PHONE)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    lefts = [_login(api, otp=wrong).json()["extra"]["attempts_left"] for _ in range(5)]
    assert lefts == [4, 3, 2, 1, 0]
    sixth = _login(api, otp=right)
    assert (sixth.status_code, sixth.json()["code"]) == (429, "members.otp_attempts_exceeded")
    seventh = _login(api, otp=right)
    assert (seventh.status_code, seventh.json()["code"]) == (401, "members.otp_expired")
    assert _member_count(mall_a) == (0, 0)


def test_a_code_works_once(mall_a, member_api):
    api = member_api()
    _send(api)
    code = last_otp(PHONE)
    assert _login(api, otp=code).status_code == 200
    again = _login(api, otp=code)
    assert (again.status_code, again.json()["code"]) == (401, "members.otp_expired")


def test_login_without_a_code_sent(mall_a, member_api):
    response = _login(member_api(), otp="123456")
    assert (response.status_code, response.json()["code"]) == (401, "members.otp_expired")


def test_a_code_for_one_phone_does_not_open_another(mall_a, member_api):
    api = member_api()
    _send(api)
    response = _login(api, phone=OTHER_PHONE, otp=last_otp(PHONE))
    assert (response.status_code, response.json()["code"]) == (401, "members.otp_expired")


@pytest.mark.parametrize(
    "body",
    [
        {"phone": PHONE, "otp": "12345"},
        {"phone": PHONE, "otp": "abcdef"},
        {"phone": PHONE},
        {"phone": PHONE, "otp": "123456", "consents": {"spam": True}},
        {"phone": PHONE, "otp": "123456", "consents": {"marketing": "maybe"}},
    ],
)
def test_malformed_login_bodies(mall_a, member_api, body):
    response = member_api().post("/api/member/v1/auth/login", body)
    assert (response.status_code, response.json()["code"]) == (422, "request.invalid")
    assert _member_count(mall_a) == (0, 0)


def test_codes_of_one_mall_do_not_work_in_another(mall_a, mall_b, member_api, api_for):
    _send(member_api())
    other_mall = api_for("mall-b.atrium.test")
    response = _login(other_mall)
    assert (response.status_code, response.json()["code"]) == (401, "members.otp_expired")


def test_phones_codes_and_tokens_are_never_logged(mall_a, member_api, caplog):
    caplog.set_level(logging.DEBUG)
    api = member_api()
    _send(api)
    code = last_otp(PHONE)
    body = _login(api, otp="000000" if code != "000000" else "111111").json()
    body = _login(api, otp=code).json()
    lines = [json.loads(JsonFormatter().format(record)) for record in caplog.records]
    logged = json.dumps([{k: v for k, v in line.items() if k != "ts"} for line in lines])
    assert "members.otp_sent" in logged
    for secret in (PHONE, code, body["access_token"], body["refresh_token"]):
        assert secret not in logged
