"""A request finds its tenant by host or X-Tenant; unknown hosts 404, suspended tenants 403."""

import json
import time

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from apps.members.models import Member
from apps.members.services import create_member, issue_member_tokens
from apps.merchants.models import Merchant
from tenants.middleware import TenantResolutionMiddleware
from tenants.models import Tenant
from tenants.services import archive_tenant, resume_tenant, suspend_tenant, update_tenant
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
    # Cached route: no query for the tenant, then the token session and the staff row.
    with django_assert_max_num_queries(5):
        assert console_a.get("/api/console/v1/me").status_code == 200


def _resolve(host):
    """Run the tenant middleware alone; the tenant it set and the queries it ran."""
    seen = {}

    def view(request):
        seen["tenant"] = request.tenant
        seen["schema"] = connection.schema_name
        return HttpResponse("ok")

    with CaptureQueriesContext(connection) as queries:
        response = TenantResolutionMiddleware(view)(RequestFactory(HTTP_HOST=host).get("/healthz"))
    connection.set_schema_to_public()
    return response, seen, len(queries.captured_queries)


def test_a_warm_route_resolves_the_tenant_with_no_query(mall_a):
    _resolve(host_of("mall-a"))  # warm-up: reads the domain and the tenant, caches the route
    response, seen, queries = _resolve(host_of("mall-a"))
    assert (response.status_code, queries, seen["schema"]) == (200, 0, "t_mall_a")
    tenant = seen["tenant"]
    assert type(tenant) is Tenant
    assert tenant.get_deferred_fields() == set()
    assert tenant._state.adding is False
    assert [getattr(tenant, f.attname) for f in Tenant._meta.concrete_fields] == [
        getattr(mall_a, f.attname) for f in Tenant._meta.concrete_fields
    ]
    assert tenant.domain_url == host_of("mall-a")
    # One instance per request: a view that changes it changes nobody else's.
    assert _resolve(host_of("mall-a"))[1]["tenant"] is not tenant


def test_a_warm_x_tenant_route_resolves_with_no_query(mall_a, member_token_a):
    _, token = member_token_a
    api = Api(BASE, token)
    assert api.get("/api/member/v1/me", headers={"X-Tenant": "mall-a"}).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = api.get("/api/member/v1/me", headers={"X-Tenant": "mall-a"})
    assert response.json()["tenant"] == "mall-a"
    assert "tenants_tenant" not in " ".join(q["sql"] for q in queries.captured_queries)


def test_a_suspended_tenant_is_refused_on_the_next_request_after_a_warm_route(mall_a):
    assert _resolve(host_of("mall-a"))[0].status_code == 200
    suspend_tenant(tenant=mall_a)
    response, seen, _ = _resolve(host_of("mall-a"))
    assert (response.status_code, json.loads(response.content)["code"]) == (403, "tenant.suspended")
    assert seen == {}
    resume_tenant(tenant=mall_a)
    assert _resolve(host_of("mall-a"))[0].status_code == 200


def test_an_archived_tenant_is_refused_on_the_next_request_after_a_warm_route(mall_a):
    assert _resolve(host_of("mall-a"))[0].status_code == 200
    archive_tenant(tenant=mall_a)
    response, _, _ = _resolve(host_of("mall-a"))
    assert (response.status_code, json.loads(response.content)["code"]) == (403, "tenant.archived")


def test_a_tenant_edit_shows_on_the_next_request_after_a_warm_route(mall_a):
    assert _resolve(host_of("mall-a"))[1]["tenant"].display_name == "Mall A"
    update_tenant(tenant=mall_a, display_name="Mall A Plaza", primary_color="#112233")
    tenant = _resolve(host_of("mall-a"))[1]["tenant"]
    assert (tenant.display_name, tenant.primary_color) == ("Mall A Plaza", "#112233")


def test_a_route_cached_before_the_tenant_gained_a_column_is_read_again(mall_a):
    from django.core.cache import cache

    # A row without every column of today's Tenant (cached before a migration added one).
    cache.set(f"tenant-route-v3:host:{host_of('mall-a')}", {"row": {"id": mall_a.pk}})
    response, seen, queries = _resolve(host_of("mall-a"))
    # The search path, then the domain with its tenant.
    assert (response.status_code, seen["tenant"].slug, queries) == (200, "mall-a", 2)


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


def test_a_change_also_forgets_the_routes_the_previous_code_cached(mall_a):
    """During a rolling deploy the previous code still reads `tenant-route:` keys."""
    from django.core.cache import cache

    old_keys = [
        f"{prefix}:{kind}:{value}"
        for prefix in ("tenant-route", "tenant-route-v2")
        for kind, value in (("host", host_of("mall-a")), ("slug", "mall-a"))
    ]
    for key in old_keys:
        cache.set(key, {"tenant_id": mall_a.pk, "status": "active"}, 60)
    suspend_tenant(tenant=mall_a)
    assert cache.get_many(old_keys) == {}


def test_another_process_s_change_reaches_this_one_within_its_local_second(mall_a):
    """A process keeps a route it read for LOCAL_ROUTE_SECONDS: a change made (and forgotten in
    Redis) by another process shows here once that copy expires."""
    from django.core.cache import cache

    from tenants import selectors

    assert selectors.LOCAL_ROUTE_SECONDS == 1.0
    assert _resolve(host_of("mall-a"))[0].status_code == 200
    # Another process suspends the tenant: the row changes and the Redis routes go.
    Tenant.objects.filter(pk=mall_a.pk).update(status="suspended")
    cache.clear()
    response, _, queries = _resolve(host_of("mall-a"))
    assert (response.status_code, queries) == (200, 0)  # this process's copy, still current
    time.sleep(1.05)
    response, _, _ = _resolve(host_of("mall-a"))
    assert (response.status_code, json.loads(response.content)["code"]) == (403, "tenant.suspended")
