"""Reads of tenants: host lookup for routing (cached), lists for the provider."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import router
from django.db.models import QuerySet
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.choices import TenantStatus
from tenants.errors import ExportNotFoundError, TenantNotFoundError
from tenants.models import Domain, Tenant, TenantExport

ROUTE_CACHE_SECONDS = 60
# Each process also keeps the routes it read for a second: a POS call then routes without a Redis
# round trip (about 0.3 ms of a worker's CPU). `forget_routes` drops this process's copies at
# once; the other processes follow within the second.
LOCAL_ROUTE_SECONDS = 1.0
_local_routes: dict[str, tuple[float, Route | None]] = {}


def _tenant_columns() -> tuple[str, ...]:
    return tuple(field.attname for field in Tenant._meta.concrete_fields)


@dataclass(frozen=True)
class Route:
    """What the router needs to know about a host, cached in Redis.

    `row` holds every column of the tenant, so a request builds its `Tenant` without a query;
    every service that changes a tenant or its domains calls `forget_routes`.
    """

    row: Mapping[str, Any]

    @property
    def tenant_id(self) -> int:
        return int(self.row["id"])

    @property
    def status(self) -> str:
        return str(self.row["status"])

    def tenant(self) -> Tenant:
        """A fresh `Tenant` of this route (one per request: instances are mutable)."""
        columns = _tenant_columns()
        return Tenant.from_db(
            router.db_for_read(Tenant), columns, [self.row[name] for name in columns]
        )


def _cached_route(key: str) -> tuple[bool, Route | None]:
    """(True, the cached route or None for a cached "no such tenant"), or (False, None)."""
    local = _local_routes.get(key)
    if local is not None and local[0] > time.monotonic():
        return True, local[1]
    cached = cache.get(key)
    if cached is None:
        return False, None
    if not cached:
        return True, _keep(key, None)
    if not isinstance(cached, dict) or set(cached.get("row", ())) != set(_tenant_columns()):
        return False, None  # written by another version of the code: read the row again
    return True, _keep(key, Route(**cached))


def clear_local_routes() -> None:
    """Forget this process's copies of the routes (tests, between two databases' worth)."""
    _local_routes.clear()


def _keep(key: str, route: Route | None) -> Route | None:
    _local_routes[key] = (time.monotonic() + LOCAL_ROUTE_SECONDS, route)
    return route


def _route_of(tenant: Tenant | None) -> Route | None:
    if tenant is None:
        return None
    return Route(row={name: getattr(tenant, name) for name in _tenant_columns()})


def _store(key: str, route: Route | None) -> Route | None:
    cache.set(key, asdict(route) if route else {}, ROUTE_CACHE_SECONDS)
    return _keep(key, route)


# The shape of a cached route changed twice ({tenant_id, status}; then with the tenant's row;
# now the row alone): each shape has its own keys, so processes of two versions of the code, side
# by side during a deploy, never read each other's.
ROUTE_KEY_VERSION = 3


def _route_key(kind: str, value: str, *, version: int = ROUTE_KEY_VERSION) -> str:
    prefix = "tenant-route" if version == 1 else f"tenant-route-v{version}"
    return f"{prefix}:{kind}:{value.lower()}"


def route_for_host(host: str) -> Route | None:
    """The tenant reached by a host name, or None (cached)."""
    key = _route_key("host", host)
    hit, route = _cached_route(key)
    if hit:
        return route
    domain = Domain.objects.select_related("tenant").filter(domain=host.lower()).first()
    return _store(key, _route_of(domain.tenant if domain else None))


def route_for_slug(slug: str) -> Route | None:
    """The tenant named by an `X-Tenant` header, or None (cached)."""
    key = _route_key("slug", slug)
    hit, route = _cached_route(key)
    if hit:
        return route
    return _store(key, _route_of(Tenant.objects.filter(slug=slug.lower()).first()))


def forget_routes(tenant: Tenant) -> None:
    """Drop cached routes after a tenant's status, columns or domains change."""
    # Routes are cached from the public schema (the key carries the schema): forget them there,
    # whichever schema the caller is in.
    with schema_context(get_public_schema_name()):
        hosts = list(Domain.objects.filter(tenant_id=tenant.pk).values_list("domain", flat=True))
        keys = [
            _route_key(kind, value, version=version)
            for version in range(1, ROUTE_KEY_VERSION + 1)  # also older versions' routes
            for kind, value in [*(("host", host) for host in hosts), ("slug", tenant.slug)]
        ]
        for key in keys:
            _local_routes.pop(key, None)
        cache.delete_many(keys)


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
