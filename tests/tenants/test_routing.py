"""A request finds its tenant by host or X-Tenant; unknown hosts 404, suspended tenants 403."""

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.members.models import Member
from apps.members.services import create_member, issue_member_tokens
from apps.merchants.models import Merchant
from tenants.services import archive_tenant, resume_tenant, suspend_tenant
from tests.conftest import BASE, Api, host_of, login, signed_headers

SURFACES = (
    "/api/console/v1/me",
    "/api/merchant/v1/me",
    "/api/member/v1/me",
    "/api/integration/v1/ping",
    "/healthz",
)


@pytest.fixture
def member_token_a(mall_a):
    with tenant_context(mall_a):
        member = create_member(display_name="Ann")
        token = issue_member_tokens(member=member).access_token
    connection.set_schema_to_public()
    return member, token


def test_tenant_host_routes_to_its_own_schema(console_a, console_b):
    console_a.post("/api/console/v1/merchants", {"name": "Only in A"})
    names_a = [m["name"] for m in console_a.get("/api/console/v1/merchants").json()["results"]]
    names_b = [m["name"] for m in console_b.get("/api/console/v1/merchants").json()["results"]]
    assert (names_a, names_b) == (["Only in A"], [])


def test_custom_domain_reaches_its_tenant(mall_a):
    mall_a.domains.create(domain="vip.mall-a.example", is_primary=False)
    api = Api("vip.mall-a.example")
    assert (
        api.post("/api/console/v1/auth/login", {"username": "owner", "password": "x"}).json()[
            "code"
        ]
        == "auth.invalid_credentials"
    )
    token = login(api, "console", "owner")["access_token"]
    assert api.as_token(token).get("/api/console/v1/me").json()["tenant"] == "mall-a"


def test_member_api_accepts_x_tenant_on_the_bare_api_host(mall_a, member_token_a):
    member, token = member_token_a
    for host in (BASE, f"api.{BASE}"):
        response = Api(host, token).get("/api/member/v1/me", headers={"X-Tenant": "mall-a"})
        assert response.status_code == 200, response.content
        assert (response.json()["member_no"], response.json()["tenant"]) == (
            member.member_no,
            "mall-a",
        )


def test_x_tenant_routes_only_the_member_api(mall_a):
    response = Api(BASE).get("/api/console/v1/me", headers={"X-Tenant": "mall-a"})
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_member_api_on_the_bare_host_needs_x_tenant(mall_a):
    response = Api(BASE).get("/api/member/v1/me")
    assert (response.status_code, response.json()["code"]) == (400, "tenant.header_required")


def test_unknown_x_tenant_is_404(mall_a):
    response = Api(BASE).get("/api/member/v1/me", headers={"X-Tenant": "no-such-mall"})
    assert (response.status_code, response.json()["code"]) == (404, "tenant.not_found")


def test_member_token_of_mall_a_via_x_tenant_of_mall_b_is_refused(mall_b, member_token_a):
    _, token = member_token_a
    response = Api(BASE, token).get("/api/member/v1/me", headers={"X-Tenant": "mall-b"})
    assert (response.status_code, response.json()["code"]) == (401, "auth.unauthenticated")


@pytest.mark.parametrize("path", SURFACES)
def test_unknown_host_is_404_json_on_every_surface(db, path):
    response = Api(f"nowhere.{BASE}").get(path)
    assert response.status_code == 404
    assert response.json() == {
        "code": "tenant.not_found",
        "message": "没有找到这个商场。",
        "extra": {},
    }


def test_unknown_host_is_a_404_page_outside_the_api(db):
    response = Api(f"nowhere.{BASE}").get("/console/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "没有找到这个商场" in response.content.decode()


@pytest.mark.parametrize("path", SURFACES)
def test_suspended_tenant_is_403_on_every_surface_and_data_is_untouched(
    mall_a, console_a, make_merchant, path
):
    shop = make_merchant(mall_a, name="Kept")
    suspend_tenant(tenant=mall_a)
    response = Api(host_of("mall-a"), console_a.token).get(
        path, headers=signed_headers(shop.key_id, shop.secret, "GET", path)
    )
    assert response.status_code == 403
    assert response.json()["code"] == "tenant.suspended"
    assert "暂停" in response.json()["message"]
    with tenant_context(mall_a):
        assert list(Merchant.objects.values_list("name", flat=True)) == ["Kept"]
    resume_tenant(tenant=mall_a)
    assert console_a.get("/api/console/v1/me").status_code == 200


def test_suspended_tenant_refuses_x_tenant_member_calls_too(mall_a, member_token_a):
    _, token = member_token_a
    suspend_tenant(tenant=mall_a)
    response = Api(BASE, token).get("/api/member/v1/me", headers={"X-Tenant": "mall-a"})
    assert (response.status_code, response.json()["code"]) == (403, "tenant.suspended")


def test_suspended_tenant_shows_a_page_to_browsers(mall_a):
    suspend_tenant(tenant=mall_a)
    response = Api(host_of("mall-a")).get("/console/")
    assert response.status_code == 403
    assert "该商场的服务已暂停" in response.content.decode()


def test_archived_tenant_is_403(mall_a, console_a):
    archive_tenant(tenant=mall_a)
    response = console_a.get("/api/console/v1/me")
    assert (response.status_code, response.json()["code"]) == (403, "tenant.archived")


def test_provider_suspends_and_resumes_through_the_api(provider_api, mall_a, console_a):
    suspended = provider_api.post(f"/api/provider/v1/tenants/{mall_a.pk}/suspend")
    assert (suspended.status_code, suspended.json()["status"]) == (200, "suspended")
    assert console_a.get("/api/console/v1/me").status_code == 403
    resumed = provider_api.post(f"/api/provider/v1/tenants/{mall_a.pk}/resume")
    assert resumed.json()["status"] == "active"
    assert console_a.get("/api/console/v1/me").status_code == 200


def test_archived_tenant_cannot_be_suspended_only_reactivated(provider_api, mall_a):
    archived = provider_api.post(f"/api/provider/v1/tenants/{mall_a.pk}/archive")
    assert archived.json()["status"] == "archived"
    refused = provider_api.post(f"/api/provider/v1/tenants/{mall_a.pk}/suspend")
    assert (refused.status_code, refused.json()["code"]) == (409, "tenant.invalid_state")
    assert refused.json()["extra"] == {"status": "archived", "target": "suspended"}
    resumed = provider_api.post(f"/api/provider/v1/tenants/{mall_a.pk}/resume")
    assert (resumed.status_code, resumed.json()["status"]) == (200, "active")


def test_route_lookup_is_cached(mall_a, console_a, django_assert_max_num_queries):
    console_a.get("/api/console/v1/me")
    # Cached route: one query for the tenant row, then the token session and the staff row.
    with django_assert_max_num_queries(6):
        assert console_a.get("/api/console/v1/me").status_code == 200


def test_member_rows_stay_in_their_schema(mall_a, mall_b, member_token_a):
    with tenant_context(mall_b):
        assert Member.objects.count() == 0


def test_a_host_that_was_unknown_answers_right_after_onboarding(provider_api):
    before = Api(f"late-mall.{BASE}").get("/healthz")
    assert before.status_code == 404
    provider_api.post(
        "/api/provider/v1/tenants",
        {"name": "Late", "slug": "late-mall", "operator": {"username": "boss"}},
    )
    assert Api(f"late-mall.{BASE}").get("/healthz").status_code == 200
