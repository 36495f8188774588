"""Reads of tenants: host lookup for routing (cached), lists for the provider."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet

from tenants.choices import TenantStatus
from tenants.errors import ExportNotFoundError, TenantNotFoundError
from tenants.models import Domain, Tenant, TenantExport

ROUTE_CACHE_SECONDS = 60


@dataclass(frozen=True)
class Route:
    """What the router needs to know about a host, cached in Redis."""

    tenant_id: int
    status: str


def _route_key(kind: str, value: str) -> str:
    return f"tenant-route:{kind}:{value.lower()}"


def route_for_host(host: str) -> Route | None:
    """The tenant reached by a host name, or None (cached)."""
    key = _route_key("host", host)
    cached = cache.get(key)
    if cached is not None:
        return Route(**cached) if cached else None
    domain = Domain.objects.select_related("tenant").filter(domain=host.lower()).first()
    route = Route(tenant_id=domain.tenant.pk, status=domain.tenant.status) if domain else None
    cache.set(key, vars(route) if route else {}, ROUTE_CACHE_SECONDS)
    return route


def route_for_slug(slug: str) -> Route | None:
    """The tenant named by an `X-Tenant` header, or None (cached)."""
    key = _route_key("slug", slug)
    cached = cache.get(key)
    if cached is not None:
        return Route(**cached) if cached else None
    tenant = Tenant.objects.filter(slug=slug.lower()).only("pk", "status").first()
    route = Route(tenant_id=tenant.pk, status=tenant.status) if tenant else None
    cache.set(key, vars(route) if route else {}, ROUTE_CACHE_SECONDS)
    return route


def forget_routes(tenant: Tenant) -> None:
    """Drop cached routes after a tenant's status or domains change."""
    hosts = list(tenant.domains.values_list("domain", flat=True))
    cache.delete_many(
        [_route_key("host", host) for host in hosts] + [_route_key("slug", tenant.slug)]
    )


def get_tenant(*, tenant_id: int | str) -> Tenant:
    """One tenant. Raises TenantNotFoundError."""
    try:
        return Tenant.objects.prefetch_related("domains").get(pk=tenant_id)
    except (Tenant.DoesNotExist, ValueError) as exc:
        raise TenantNotFoundError("tenant not found") from exc


def get_tenant_by_slug(*, slug: str) -> Tenant:
    """One tenant by slug. Raises TenantNotFoundError."""
    tenant = Tenant.objects.prefetch_related("domains").filter(slug=slug).first()
    if tenant is None:
        raise TenantNotFoundError("tenant not found", slug=slug)
    return tenant


def list_tenants(*, status: str | None = None) -> QuerySet[Tenant]:
    """Tenants, newest first."""
    queryset = Tenant.objects.prefetch_related("domains").order_by("-created_at", "-id")
    return queryset.filter(status=status) if status else queryset


def get_export(*, tenant: Tenant, export_id: uuid.UUID) -> TenantExport:
    """One export of this tenant. Raises ExportNotFoundError."""
    export = TenantExport.objects.filter(tenant=tenant, pk=export_id).first()
    if export is None:
        raise ExportNotFoundError("export not found")
    return export


def primary_host(tenant: Tenant) -> str:
    """The tenant's primary host name."""
    domain = next((d for d in tenant.domains.all() if d.is_primary), None)
    return domain.domain if domain else f"{tenant.slug}.{settings.BASE_DOMAIN}"


def tenant_url(tenant: Tenant, path: str = "/") -> str:
    """An absolute URL on the tenant's primary host."""
    port = f":{settings.PUBLIC_PORT}" if settings.PUBLIC_PORT else ""
    return f"{settings.PUBLIC_SCHEME}://{primary_host(tenant)}{port}{path}"


def list_active_schema_names() -> list[str]:
    """Schemas of the active tenants, oldest tenant first (for per-tenant background work)."""
    return list(
        Tenant.objects.filter(status=TenantStatus.ACTIVE)
        .order_by("created_at", "id")
        .values_list("schema_name", flat=True)
    )
