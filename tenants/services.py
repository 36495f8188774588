"""Tenant lifecycle: onboard in one step, update, suspend, resume, archive, export, restore."""

from __future__ import annotations

import hashlib
import re
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from tenants import template
from tenants.choices import ExportStatus, TenantKind, TenantStatus
from tenants.errors import (
    BackupToolError,
    SlugInvalidError,
    SlugTakenError,
    TenantStateError,
)
from tenants.models import Domain, Tenant, TenantExport
from tenants.selectors import forget_routes, tenant_url

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
RESERVED_SLUGS = frozenset(
    {"www", "api", "admin", "static", "media", "provider", "console", "ws", "mail", "public"}
)
COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")


@dataclass(frozen=True)
class OnboardingResult:
    tenant: Tenant
    operator_username: str
    invitation_url: str
    operator_password: str | None


def schema_name_for(slug: str) -> str:
    """Schemas may hold `_`, domains must use `-` (see ARCHITECTURE.md)."""
    return "t_" + slug.replace("-", "_")


def validate_slug(slug: str) -> str:
    """Lowercase letters, digits and hyphens, 3-40 long. Raises SlugInvalidError."""
    if not SLUG_RE.match(slug) or "--" in slug or slug in RESERVED_SLUGS:
        raise SlugInvalidError(
            "slug must be 3-40 lowercase letters, digits or single hyphens, not reserved",
            slug=slug,
        )
    return slug


def onboard_tenant(
    *,
    name: str,
    slug: str,
    kind: str = TenantKind.MALL,
    operator_username: str,
    operator_email: str = "",
    operator_password: str | None = None,
    display_name: str = "",
    primary_color: str | None = None,
    custom_domains: tuple[str, ...] = (),
) -> OnboardingResult:
    """Create a mall in one step: schema cloned from the template, program seeded, owner invited.

    Raises SlugInvalidError, SlugTakenError, TemplateStaleError, WeakPasswordError.
    """
    from apps.accounts.choices import StaffRole
    from apps.accounts.services import invite_staff
    from apps.loyalty.services import seed_default_program
    from apps.merchants.services import seed_business_formats

    validate_slug(slug)
    if primary_color and not COLOR_RE.match(primary_color):
        raise SlugInvalidError("primary colour must look like #RRGGBB", primary_color=primary_color)
    with schema_context(settings.PUBLIC_SCHEMA_NAME), transaction.atomic():
        if Tenant.objects.filter(slug=slug).exists():
            raise SlugTakenError("a tenant with this slug exists", slug=slug)
        tenant = Tenant(
            name=name,
            slug=slug,
            kind=kind,
            schema_name=schema_name_for(slug),
            display_name=display_name or name,
            status_changed_at=timezone.now(),
        )
        if primary_color:
            tenant.primary_color = primary_color
        try:
            with transaction.atomic():
                tenant.save()
                hosts = [f"{slug}.{settings.BASE_DOMAIN}", *custom_domains]
                for index, host in enumerate(hosts):
                    Domain.objects.create(domain=host.lower(), tenant=tenant, is_primary=index == 0)
        except IntegrityError as exc:
            raise SlugTakenError("slug, schema or domain already in use", slug=slug) from exc
        template.clone_into(tenant.schema_name)
        with tenant_context(tenant):
            seed_default_program(today=timezone.localdate())
            seed_business_formats()
            invitation = invite_staff(
                username=operator_username,
                email=operator_email,
                role=StaffRole.OWNER,
                password=operator_password,
            )
    # A lookup of the host before onboarding may have cached "unknown host".
    forget_routes(tenant)
    return OnboardingResult(
        tenant=tenant,
        operator_username=invitation.staff.username,
        invitation_url=tenant_url(tenant, f"/console/invitation/{invitation.token}"),
        operator_password=operator_password,
    )


# target status -> the statuses it may be reached from
_ALLOWED_FROM = {
    TenantStatus.SUSPENDED: {TenantStatus.ACTIVE},
    TenantStatus.ACTIVE: {TenantStatus.SUSPENDED, TenantStatus.ARCHIVED},
    TenantStatus.ARCHIVED: {TenantStatus.ACTIVE, TenantStatus.SUSPENDED},
}


@transaction.atomic
def change_status(*, tenant: Tenant, status: str) -> Tenant:
    """Suspend, resume or archive; data is never touched. Raises TenantStateError."""
    allowed_from = _ALLOWED_FROM[TenantStatus(status)]
    if tenant.status == status:
        return tenant
    if tenant.status not in allowed_from:
        raise TenantStateError(
            f"cannot go from {tenant.status} to {status}", status=tenant.status, target=status
        )
    tenant.status = status
    tenant.status_changed_at = timezone.now()
    tenant.save(update_fields=["status", "status_changed_at", "updated_at"])
    # Forget now for this process and again at commit, so no request re-caches the old status.
    forget_routes(tenant)
    transaction.on_commit(lambda: forget_routes(tenant))
    return tenant


def suspend_tenant(*, tenant: Tenant) -> Tenant:
    """Block every surface of a tenant with a 403; its data stays as it is."""
    return change_status(tenant=tenant, status=TenantStatus.SUSPENDED)


def resume_tenant(*, tenant: Tenant) -> Tenant:
    """Reopen a suspended tenant."""
    return change_status(tenant=tenant, status=TenantStatus.ACTIVE)


def archive_tenant(*, tenant: Tenant) -> Tenant:
    """Close a tenant for good (kept for export); no surface answers for it."""
    return change_status(tenant=tenant, status=TenantStatus.ARCHIVED)


UPDATABLE_FIELDS = (
    "name",
    "kind",
    "display_name",
    "logo_url",
    "primary_color",
    "plan",
    "timezone",
    "locale",
)


@transaction.atomic
def update_tenant(*, tenant: Tenant, **changes: str) -> Tenant:
    """Change a tenant's name, kind, branding, plan, timezone or locale."""
    fields = [field for field in UPDATABLE_FIELDS if field in changes]
    color = changes.get("primary_color")
    if color is not None and not COLOR_RE.match(color):
        raise SlugInvalidError("primary colour must look like #RRGGBB", primary_color=color)
    for field in fields:
        setattr(tenant, field, changes[field])
    if fields:
        tenant.save(update_fields=[*fields, "updated_at"])
        # Requests build their Tenant from the cached route: drop it now and again at commit.
        forget_routes(tenant)
        transaction.on_commit(lambda: forget_routes(tenant))
    return tenant


def _exports_dir(tenant: Tenant) -> Path:
    folder = Path(settings.PRIVATE_ROOT) / "exports" / tenant.schema_name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def export_path(export: TenantExport) -> Path:
    """Where an export's archive lies (private storage, served only to provider admins)."""
    return _exports_dir(export.tenant) / export.file_name


def export_tenant(*, tenant: Tenant, actor: str = "") -> TenantExport:
    """pg_dump the tenant's schema into a custom-format archive. Raises BackupToolError."""
    export = TenantExport.objects.create(tenant=tenant, created_by=actor)
    export.file_name = f"{tenant.slug}-{timezone.now():%Y%m%d%H%M%S}-{export.pk.hex[:8]}.dump"
    args, env = template.pg_tool_env()
    target = export_path(export)
    result = subprocess.run(  # noqa: S603 - fixed binary, arguments from settings, no shell
        [template.pg_tool("pg_dump"), *args, "--format", "custom", "--schema", tenant.schema_name,
         "--no-owner", "--no-privileges", "--file", str(target)],
        capture_output=True, env=env, check=False, timeout=3600,
    )  # fmt: skip
    if result.returncode != 0:
        export.status = ExportStatus.FAILED
        export.save(update_fields=["status", "file_name"])
        raise BackupToolError("pg_dump failed", stderr=result.stderr.decode()[-500:])
    export.status = ExportStatus.READY
    export.size_bytes = target.stat().st_size
    export.sha256 = hashlib.sha256(target.read_bytes()).hexdigest()
    export.save(update_fields=["status", "file_name", "size_bytes", "sha256"])
    return export


def restore_tenant(*, tenant: Tenant, export: TenantExport) -> Tenant:
    """Replace the tenant's schema with an export's content.

    The live schema is renamed aside first and dropped only once the restore succeeded, so a
    failed restore leaves the tenant as it was. Raises BackupToolError, TenantStateError.
    """
    if export.status != ExportStatus.READY or export.tenant_id != tenant.pk:
        raise TenantStateError("export is not ready for this tenant", export_id=str(export.pk))
    archive = export_path(export)
    schema = tenant.schema_name
    aside = f"{schema[:40]}_old_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER SCHEMA "{schema}" RENAME TO "{aside}"')
    args, env = template.pg_tool_env()
    result = subprocess.run(  # noqa: S603 - fixed binary, arguments from settings, no shell
        [template.pg_tool("pg_restore"), *args, "--no-owner", "--no-privileges",
         "--single-transaction", "--exit-on-error", str(archive)],
        capture_output=True, env=env, check=False, timeout=3600,
    )  # fmt: skip
    with connection.cursor() as cursor:
        if result.returncode != 0:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            cursor.execute(f'ALTER SCHEMA "{aside}" RENAME TO "{schema}"')
            raise BackupToolError("pg_restore failed", stderr=result.stderr.decode()[-500:])
        cursor.execute(f'DROP SCHEMA "{aside}" CASCADE')
    from apps.merchants import keyring

    # The restored rows replace every key and merchant that processes keep in their keyring.
    with tenant_context(tenant):
        keyring.invalidate()
    return tenant
