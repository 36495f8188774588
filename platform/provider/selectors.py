"""Reads of the provider console that cross into tenant schemas (aggregates only)."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from apps.console.selectors import MallCounts, mall_counts
from tenants.models import Tenant


def tenant_usage(*, tenant: Tenant) -> MallCounts:
    """Merchants, staff and members of one tenant, counted inside its schema (no member data)."""
    with tenant_context(tenant):
        return mall_counts()
