"""Member tokens: issued per mall, refreshed, revoked, refused elsewhere."""

from django.db import connection
from django_tenants.utils import tenant_context

from apps.members.models import Member
from apps.members.services import create_member, issue_member_tokens
from tests.conftest import Api, host_of


def _member_pair(tenant):
    with tenant_context(tenant):
        member = create_member(display_name="Bo")
        pair = issue_member_tokens(member=member)
    connection.set_schema_to_public()
    return member, pair


def test_member_token_opens_me_in_its_mall(mall_a):
    member, pair = _member_pair(mall_a)
    body = Api(host_of("mall-a"), pair.access_token).get("/api/member/v1/me").json()
    assert (body["member_no"], body["display_name"]) == (member.member_no, "Bo")
    assert body["member_no"].startswith("M")
    assert len(body["member_no"]) == 11


def test_member_token_is_refused_by_another_mall(mall_a, mall_b):
    _, pair = _member_pair(mall_a)
    response = Api(host_of("mall-b"), pair.access_token).get("/api/member/v1/me")
    assert (response.status_code, response.json()["extra"]) == (401, {"reason": "wrong_tenant"})


def test_member_token_is_not_a_staff_token(mall_a):
    _, pair = _member_pair(mall_a)
    response = Api(host_of("mall-a"), pair.access_token).get("/api/console/v1/me")
    assert (response.status_code, response.json()["extra"]) == (401, {"reason": "wrong_kind"})


def test_staff_token_is_not_a_member_token(console_a):
    response = Api(host_of("mall-a"), console_a.token).get("/api/member/v1/me")
    assert (response.status_code, response.json()["extra"]) == (401, {"reason": "wrong_kind"})


def test_member_refresh_and_logout(mall_a):
    _, pair = _member_pair(mall_a)
    api = Api(host_of("mall-a"))
    fresh = api.post("/api/member/v1/auth/refresh", {"refresh_token": pair.refresh_token}).json()
    member_api = api.as_token(fresh["access_token"])
    assert member_api.post("/api/member/v1/auth/logout").status_code == 204
    assert member_api.get("/api/member/v1/me").status_code == 401


def test_closed_member_account_is_refused(mall_a):
    member, pair = _member_pair(mall_a)
    with tenant_context(mall_a):
        Member.objects.filter(pk=member.pk).update(is_active=False)
    connection.set_schema_to_public()
    response = Api(host_of("mall-a"), pair.access_token).get("/api/member/v1/me")
    assert (response.status_code, response.json()["extra"]) == (401, {"reason": "inactive"})
