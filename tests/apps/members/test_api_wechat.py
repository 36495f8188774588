"""`POST /auth/wechat` against the local fake of WeChat's code-to-session endpoint."""

import pytest
from django_tenants.utils import tenant_context

from apps.members.models import Member, MemberConsent, MemberIdentity
from apps.members.selectors import member_by_identity
from integrations.wechat.fake import FakeWeChat
from tests.apps.members.conftest import in_schema


@pytest.fixture
def wechat(settings):
    with FakeWeChat(app_id="wx-mall-a", app_secret="s3cret") as fake:
        settings.WECHAT_APP_ID = "wx-mall-a"
        settings.WECHAT_APP_SECRET = "s3cret"
        settings.WECHAT_API_BASE = fake.api_base
        yield fake


def _login(api, code, **extra):
    return api.post("/api/member/v1/auth/wechat", {"code": code, **extra})


def _identities(mall):
    return in_schema(
        mall,
        lambda: sorted(MemberIdentity.objects.values_list("member_id", "kind", "verified_at")),
    )


def test_a_good_code_joins_then_logs_in(mall_a, member_api, wechat):
    wechat.add_code("code-1", openid="o-openid-0001", unionid="u-unionid-0001")
    first = _login(member_api(), "code-1", consents={"data_processing": True})
    body = first.json()
    assert (first.status_code, body["created"]) == (200, True), body
    with tenant_context(mall_a):
        member = Member.objects.get(pk=body["member_id"])
        assert member.registration_channel == "wechat"
        kinds = sorted(
            (i.kind, i.verified_at is not None)
            for i in MemberIdentity.objects.filter(member=member)
        )
        assert kinds == [("wechat_openid", True), ("wechat_unionid", True)]
        assert list(MemberConsent.objects.values_list("kind", "source")) == [
            ("data_processing", "wechat")
        ]
    me = member_api().as_token(body["access_token"]).get("/api/member/v1/me")
    assert (me.status_code, me.json()["phone"]) == (200, None)

    wechat.add_code("code-2", openid="o-openid-0001", unionid="u-unionid-0001")
    again = _login(member_api(), "code-2").json()
    assert (again["created"], again["member_id"]) == (False, body["member_id"])
    assert wechat.calls == ["/sns/jscode2session", "/sns/jscode2session"]  # no token fetches


def test_an_unknown_code_is_refused(mall_a, member_api, wechat):
    response = _login(member_api(), "never-issued")
    assert (response.status_code, response.json()["code"]) == (401, "wechat.code_invalid")
    assert _identities(mall_a) == []


def test_a_used_code_is_refused(mall_a, member_api, wechat):
    wechat.add_code("code-1", openid="o-openid-0001")
    assert _login(member_api(), "code-1").status_code == 200
    again = _login(member_api(), "code-1")
    assert (again.status_code, again.json()["code"]) == (401, "wechat.code_invalid")


def test_a_new_openid_with_a_known_unionid_finds_the_member(mall_a, member_api, wechat):
    wechat.add_code("code-1", openid="o-openid-0001", unionid="u-unionid-0001")
    first = _login(member_api(), "code-1").json()
    wechat.add_code("code-2", openid="o-openid-other", unionid="u-unionid-0001")
    second = _login(member_api(), "code-2").json()
    assert (second["created"], second["member_id"]) == (False, first["member_id"])
    with tenant_context(mall_a):
        member = member_by_identity(kind="wechat_openid", raw_value="o-openid-other")
        assert str(member.pk) == first["member_id"]
        assert MemberIdentity.objects.filter(kind="wechat_openid").count() == 2


def test_wrong_app_secret_answers_503_and_joins_nobody(mall_a, member_api, wechat, settings):
    settings.WECHAT_APP_SECRET = "wrong"
    wechat.add_code("code-1", openid="o-openid-0001")
    response = _login(member_api(), "code-1")
    assert (response.status_code, response.json()["code"], response.json()["extra"]) == (
        503,
        "wechat.unavailable",
        {"retryable": False},
    )
    assert _identities(mall_a) == []


def test_wechat_not_configured_or_unreachable(mall_a, member_api, settings):
    settings.WECHAT_APP_ID = ""
    off = _login(member_api(), "code-1")
    assert (off.status_code, off.json()["extra"]) == (503, {"retryable": False})
    settings.WECHAT_APP_ID = "wx"
    settings.WECHAT_APP_SECRET = "s"
    settings.WECHAT_API_BASE = "http://127.0.0.1:9"
    down = _login(member_api(), "code-1")
    assert (down.status_code, down.json()["extra"]) == (503, {"retryable": True})


@pytest.mark.parametrize("body", [{}, {"code": ""}, {"code": "x" * 129}, {"code": 5}])
def test_malformed_wechat_bodies(mall_a, member_api, body):
    response = member_api().post("/api/member/v1/auth/wechat", body)
    assert (response.status_code, response.json()["code"]) == (422, "request.invalid")
