"""Provider API on the bare domain: log in, onboard and run tenants."""

import uuid

from django.http import FileResponse, HttpRequest
from ninja import Router, Status
from ninja.pagination import CursorPagination, paginate

from atrium import tokens
from atrium.request_utils import client_ip
from atrium.schemas import ERROR_CODES, ErrorOut, LoginIn, RefreshIn, TokenPairOut
from provider import services as provider_services
from provider.auth import ProviderAuth, ProviderPrincipal
from provider.schemas import (
    ExportOut,
    RestoreIn,
    TenantCreatedOut,
    TenantCreateIn,
    TenantOut,
    TenantUpdateIn,
)
from tenants import selectors, services
from tenants.models import Tenant, TenantExport

router = Router(tags=["provider"], auth=ProviderAuth())


def _principal(request: HttpRequest) -> ProviderPrincipal:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, ProviderPrincipal)  # noqa: S101 - the router's auth guarantees it
    return principal


def _export_out(export: TenantExport) -> ExportOut:
    return ExportOut(
        id=export.pk,
        status=export.status,
        file_name=export.file_name,
        size_bytes=export.size_bytes,
        sha256=export.sha256,
        created_at=export.created_at,
        download_url=f"/api/provider/v1/tenants/{export.tenant_id}/exports/{export.pk}/download",
    )


@router.post("/auth/login", auth=None, response={200: TokenPairOut, ERROR_CODES: ErrorOut})
def login(request: HttpRequest, payload: LoginIn) -> TokenPairOut:
    """Log a provider admin in."""
    pair = provider_services.login_provider_admin(
        request=request, username=payload.username, password=payload.password, ip=client_ip(request)
    )
    return TokenPairOut(**vars(pair))


@router.post("/auth/refresh", auth=None, response={200: TokenPairOut, ERROR_CODES: ErrorOut})
def refresh(request: HttpRequest, payload: RefreshIn) -> TokenPairOut:
    """Swap a refresh token for a new pair."""
    pair = provider_services.refresh_provider_tokens(refresh_token=payload.refresh_token)
    return TokenPairOut(**vars(pair))


@router.post("/auth/logout", response={204: None, ERROR_CODES: ErrorOut})
def logout(request: HttpRequest) -> Status[None]:
    """End this login."""
    tokens.revoke_session(session=_principal(request).session)
    return Status(204, None)


@router.get("/tenants", response={200: list[TenantOut], ERROR_CODES: ErrorOut})
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def list_tenants(request: HttpRequest, status: str | None = None) -> object:
    """Every tenant, newest first (no member data)."""
    return selectors.list_tenants(status=status)


@router.post("/tenants", response={201: TenantCreatedOut, ERROR_CODES: ErrorOut})
def create_tenant(request: HttpRequest, payload: TenantCreateIn) -> Status[TenantCreatedOut]:
    """Onboard a mall or street in one step; returns the owner's invitation link."""
    result = services.onboard_tenant(
        name=payload.name,
        slug=payload.slug,
        kind=payload.kind,
        display_name=payload.display_name,
        primary_color=payload.primary_color,
        operator_username=payload.operator.username,
        operator_email=payload.operator.email,
    )
    tenant = selectors.get_tenant(tenant_id=result.tenant.pk)
    # The response schema reads these from the object next to the tenant's own fields.
    tenant.operator_username = result.operator_username
    tenant.invitation_url = result.invitation_url
    return Status(201, TenantCreatedOut.model_validate(tenant, from_attributes=True))


@router.get("/tenants/{tenant_id}", response={200: TenantOut, ERROR_CODES: ErrorOut})
def get_tenant(request: HttpRequest, tenant_id: int) -> Tenant:
    """One tenant."""
    return selectors.get_tenant(tenant_id=tenant_id)


@router.patch("/tenants/{tenant_id}", response={200: TenantOut, ERROR_CODES: ErrorOut})
def update_tenant(request: HttpRequest, tenant_id: int, payload: TenantUpdateIn) -> Tenant:
    """Change a tenant's name, kind, branding, plan, timezone or locale."""
    tenant = selectors.get_tenant(tenant_id=tenant_id)
    changes = {
        key: value
        for key, value in payload.model_dump(exclude_unset=True).items()
        if value is not None
    }
    return services.update_tenant(tenant=tenant, **changes)


@router.post("/tenants/{tenant_id}/suspend", response={200: TenantOut, ERROR_CODES: ErrorOut})
def suspend(request: HttpRequest, tenant_id: int) -> Tenant:
    """Suspend: every surface of the tenant answers 403; data untouched."""
    return services.suspend_tenant(tenant=selectors.get_tenant(tenant_id=tenant_id))


@router.post("/tenants/{tenant_id}/resume", response={200: TenantOut, ERROR_CODES: ErrorOut})
def resume(request: HttpRequest, tenant_id: int) -> Tenant:
    """Resume a suspended tenant."""
    return services.resume_tenant(tenant=selectors.get_tenant(tenant_id=tenant_id))


@router.post("/tenants/{tenant_id}/archive", response={200: TenantOut, ERROR_CODES: ErrorOut})
def archive(request: HttpRequest, tenant_id: int) -> Tenant:
    """Archive a tenant (kept for export, served nowhere)."""
    return services.archive_tenant(tenant=selectors.get_tenant(tenant_id=tenant_id))


@router.post("/tenants/{tenant_id}/export", response={201: ExportOut, ERROR_CODES: ErrorOut})
def export(request: HttpRequest, tenant_id: int) -> Status[ExportOut]:
    """Dump the tenant's schema into a downloadable archive."""
    tenant = selectors.get_tenant(tenant_id=tenant_id)
    actor = str(_principal(request).user.get_username())
    return Status(201, _export_out(services.export_tenant(tenant=tenant, actor=actor)))


@router.get("/tenants/{tenant_id}/exports", response={200: list[ExportOut], ERROR_CODES: ErrorOut})
def list_exports(request: HttpRequest, tenant_id: int) -> list[ExportOut]:
    """The tenant's exports, newest first."""
    tenant = selectors.get_tenant(tenant_id=tenant_id)
    return [_export_out(export) for export in tenant.exports.all()]


@router.get(
    "/tenants/{tenant_id}/exports/{export_id}/download",
    response={200: None, ERROR_CODES: ErrorOut},
)
def download_export(request: HttpRequest, tenant_id: int, export_id: uuid.UUID) -> FileResponse:
    """The archive itself (pg_dump custom format)."""
    tenant = selectors.get_tenant(tenant_id=tenant_id)
    export = selectors.get_export(tenant=tenant, export_id=export_id)
    return FileResponse(
        services.export_path(export).open("rb"), as_attachment=True, filename=export.file_name
    )


@router.post("/tenants/{tenant_id}/restore", response={200: TenantOut, ERROR_CODES: ErrorOut})
def restore(request: HttpRequest, tenant_id: int, payload: RestoreIn) -> Tenant:
    """Replace the tenant's data with one of its exports."""
    tenant = selectors.get_tenant(tenant_id=tenant_id)
    export = selectors.get_export(tenant=tenant, export_id=payload.export_id)
    return services.restore_tenant(tenant=tenant, export=export)
