"""Typed access to django-tenants' connection API (the library ships no type hints)."""

from __future__ import annotations

from typing import Any, Protocol, cast

from django.db import connection


class TenantConnection(Protocol):
    schema_name: str
    tenant: Any

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None: ...

    def set_schema_to_public(self) -> None: ...


def tenant_connection() -> TenantConnection:
    """The default connection, seen through django-tenants' schema-switching methods."""
    return cast(TenantConnection, connection)


def current_schema() -> str:
    """The schema the default connection works in now."""
    return tenant_connection().schema_name
