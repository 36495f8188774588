"""The tenant (a mall or a street) and its domains; both live in the public schema."""

from __future__ import annotations

import uuid

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

from tenants.choices import ExportStatus, TenantKind, TenantStatus


class Tenant(TenantMixin):
    """A mall, department store, outlet or commercial street, with its own schema."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True)
    kind = models.CharField(max_length=32, choices=TenantKind.choices, default=TenantKind.MALL)
    status = models.CharField(
        max_length=16, choices=TenantStatus.choices, default=TenantStatus.ACTIVE
    )
    timezone = models.CharField(max_length=64, default="Asia/Shanghai")
    currency = models.CharField(max_length=3, default="CNY")
    locale = models.CharField(max_length=16, default="zh-hans")
    display_name = models.CharField(max_length=200, blank=True)
    logo_url = models.URLField(max_length=500, blank=True)
    primary_color = models.CharField(max_length=7, default="#B8860B")
    plan = models.CharField(max_length=32, default="standard")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    # Schemas are created by our onboarding service (cloned from the template), never by save().
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == TenantStatus.ACTIVE

    @property
    def brand_name(self) -> str:
        return self.display_name or self.name


class Domain(DomainMixin):
    """A host that reaches a tenant: `<slug>.<BASE_DOMAIN>` or a custom domain."""


class TenantExport(models.Model):
    """A pg_dump archive of one tenant's schema, downloadable by provider admins."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="exports")
    status = models.CharField(
        max_length=16, choices=ExportStatus.choices, default=ExportStatus.PENDING
    )
    file_name = models.CharField(max_length=300, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.file_name or str(self.pk)
