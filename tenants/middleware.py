"""Find the tenant of a request: by host, or by `X-Tenant` on the shared API host.

Replaces django-tenants' TenantMainMiddleware so that unknown hosts get a 404 and suspended or
archived tenants a 403, as JSON on API paths and as a page elsewhere, and so that the lookup is
cached in Redis.
"""

from __future__ import annotations

from collections.abc import Callable

import sentry_sdk
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import set_urlconf
from django.utils import translation
from django.utils.translation import gettext as _

from atrium.logging import tenant_var
from atrium.tenancy import tenant_connection
from tenants.choices import TenantStatus
from tenants.selectors import Route, route_for_host, route_for_slug

MEMBER_API_PREFIX = "/api/member/"


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(
        ("/api/", "/healthz", "/readyz")
    ) or "application/json" in request.headers.get("Accept", "")


def _refusal(request: HttpRequest, *, status: int, code: str, message: str) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(
            {"code": code, "message": message, "extra": {}},
            status=status,
            json_dumps_params={"ensure_ascii": False},
        )
    return render(
        request,
        "tenants/refused.html",
        {"code": code, "message": message, "status": status},
        status=status,
    )


def public_hosts() -> frozenset[str]:
    """The provider's own hosts: its surface, and the shared API host (`X-Tenant`)."""
    base = settings.BASE_DOMAIN.lower()
    return frozenset({base, f"www.{base}", f"api.{base}"})


def request_host(request: HttpRequest) -> str:
    """The host a request reached, as tenant domains are stored. Raises DisallowedHost."""
    return request.get_host().split(":")[0].lower().rstrip(".")


REFUSED_STATUSES = frozenset({TenantStatus.SUSPENDED, TenantStatus.ARCHIVED})


class TenantResolutionMiddleware:
    """Sets `request.tenant`, the connection's schema and the URLconf for every request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.public_hosts = public_hosts()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant_connection().set_schema_to_public()
        # Refusals are rendered before LocaleMiddleware runs: speak the visitor's language, not
        # the one a previous request left active on this thread.
        translation.activate(translation.get_language_from_request(request))
        try:
            host = request_host(request)
        except DisallowedHost:
            return _refusal(request, status=400, code="request.bad_host", message="bad host")
        route: Route | None
        if host in self.public_hosts:
            slug = request.headers.get("X-Tenant", "").strip().lower()
            if not request.path.startswith(MEMBER_API_PREFIX):
                return self._serve_public(request)
            if not slug:
                return _refusal(
                    request,
                    status=400,
                    code="tenant.header_required",
                    message=_("请在 X-Tenant 请求头中指明商场。"),
                )
            route = route_for_slug(slug)
        else:
            route = route_for_host(host)
        if route is None:
            return _refusal(
                request, status=404, code="tenant.not_found", message=_("没有找到这个商场。")
            )
        if route.status == TenantStatus.SUSPENDED:
            return _refusal(
                request,
                status=403,
                code="tenant.suspended",
                message=_("该商场的服务已暂停，请联系平台服务商。"),
            )
        if route.status == TenantStatus.ARCHIVED:
            return _refusal(
                request,
                status=403,
                code="tenant.archived",
                message=_("该商场已归档，不再提供服务。"),
            )
        # Built from the cached route's row: no query per request (see tenants.selectors.Route).
        tenant = route.tenant()
        tenant.domain_url = host
        request.tenant = tenant  # type: ignore[attr-defined]  # django-tenants' convention
        tenant_connection().set_tenant(tenant)
        tenant_var.set(tenant.slug)
        sentry_sdk.set_tag("tenant", tenant.slug)
        request.urlconf = settings.ROOT_URLCONF  # type: ignore[attr-defined]  # read by Django
        set_urlconf(settings.ROOT_URLCONF)
        try:
            return self.get_response(request)
        finally:
            tenant_connection().set_schema_to_public()

    def _serve_public(self, request: HttpRequest) -> HttpResponse:
        request.tenant = None  # type: ignore[attr-defined]  # the provider's own surface
        request.urlconf = settings.PUBLIC_SCHEMA_URLCONF  # type: ignore[attr-defined]  # read by Django
        set_urlconf(settings.PUBLIC_SCHEMA_URLCONF)
        return self.get_response(request)
