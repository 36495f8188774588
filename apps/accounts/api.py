"""Console and merchant-portal endpoints for staff: log in, who am I, manage staff."""

import uuid

from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import CursorPagination, paginate

from apps.accounts import selectors, services
from apps.accounts.auth import ConsoleAuth, MerchantPortalAuth, StaffPrincipal
from apps.accounts.models import StaffUser
from apps.accounts.permissions import Permission, permissions_of, require, require_can_assign
from apps.accounts.schemas import (
    AcceptInvitationIn,
    MeOut,
    MerchantRefOut,
    StaffCreateIn,
    StaffInvitedOut,
    StaffOut,
    StaffUpdateIn,
)
from apps.merchants.selectors import get_merchant
from atrium import tokens
from atrium.idempotency import idempotent
from atrium.request_utils import client_ip
from atrium.schemas import ERROR_CODES, ErrorOut, LoginIn, RefreshIn, TokenPairOut
from tenants.selectors import tenant_url

console_router = Router(tags=["console: staff"], auth=ConsoleAuth())
merchant_router = Router(tags=["merchant: staff"], auth=MerchantPortalAuth())


def _me(request: HttpRequest, staff: StaffUser) -> MeOut:
    merchant = staff.merchant
    return MeOut(
        id=staff.pk,
        username=staff.username,
        display_name=staff.display_name,
        role=staff.role,
        permissions=permissions_of(staff.role),
        tenant=request.tenant.slug,  # type: ignore[attr-defined]  # set by tenant middleware
        merchant=MerchantRefOut(id=merchant.pk, name=merchant.name) if merchant else None,
    )


def _principal(request: HttpRequest) -> StaffPrincipal:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, StaffPrincipal)  # noqa: S101 - the router's auth guarantees it
    return principal


# --- console -------------------------------------------------------------------------------


@console_router.post("/auth/login", auth=None, response={200: TokenPairOut, ERROR_CODES: ErrorOut})
def console_login(request: HttpRequest, payload: LoginIn) -> TokenPairOut:
    """Log a mall staff member in; returns an access and a refresh token."""
    _, pair = services.login_staff(
        username=payload.username,
        password=payload.password,
        ip=client_ip(request),
        merchant_portal=False,
    )
    return TokenPairOut(**vars(pair))


@console_router.post(
    "/auth/refresh", auth=None, response={200: TokenPairOut, ERROR_CODES: ErrorOut}
)
def console_refresh(request: HttpRequest, payload: RefreshIn) -> TokenPairOut:
    """Swap a refresh token for a new pair (the old refresh token stops working)."""
    return TokenPairOut(**vars(services.refresh_staff_tokens(refresh_token=payload.refresh_token)))


@console_router.post(
    "/auth/accept-invitation", auth=None, response={200: TokenPairOut, ERROR_CODES: ErrorOut}
)
def accept_invitation(request: HttpRequest, payload: AcceptInvitationIn) -> TokenPairOut:
    """Set a password from an invitation link and log in."""
    staff = services.accept_invitation(token=payload.token, password=payload.password)
    _, pair = services.login_staff(
        username=staff.username,
        password=payload.password,
        ip=client_ip(request),
        merchant_portal=staff.is_merchant_staff,
    )
    return TokenPairOut(**vars(pair))


@console_router.post("/auth/logout", response={204: None, ERROR_CODES: ErrorOut})
def console_logout(request: HttpRequest) -> Status[None]:
    """End this login: its refresh and access tokens stop working."""
    tokens.revoke_session(session=_principal(request).session)
    return Status(204, None)


@console_router.get("/me", response={200: MeOut, ERROR_CODES: ErrorOut})
def console_me(request: HttpRequest) -> MeOut:
    """The signed-in staff member, their role and permissions."""
    return _me(request, _principal(request).staff)


@console_router.get("/staff", response={200: list[StaffOut], ERROR_CODES: ErrorOut})
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def list_staff(request: HttpRequest, merchant_id: uuid.UUID | None = None) -> object:
    """Staff accounts of the mall and its merchants, newest first."""
    require(_principal(request).staff.role, Permission.VIEW_STAFF)
    return selectors.list_staff(merchant_id=merchant_id)


@console_router.post("/staff", response={201: StaffInvitedOut, ERROR_CODES: ErrorOut})
@idempotent("console.staff.create")
def create_staff(request: HttpRequest, payload: StaffCreateIn) -> Status[StaffInvitedOut]:
    """Invite a staff member (mall or merchant); the response carries their invitation link."""
    actor = _principal(request).staff
    require(actor.role, Permission.MANAGE_STAFF)
    require_can_assign(actor.role, payload.role)
    merchant = get_merchant(merchant_id=payload.merchant_id) if payload.merchant_id else None
    invitation = services.invite_staff(
        username=payload.username,
        email=payload.email,
        display_name=payload.display_name,
        role=payload.role,
        merchant=merchant,
    )
    staff = invitation.staff
    # The response schema reads the one-time link next to the account's own fields.
    staff.invitation_url = tenant_url(  # type: ignore[attr-defined]
        request.tenant,  # type: ignore[attr-defined]  # set by tenant middleware
        f"/console/invitation/{invitation.token}",
    )
    return Status(201, StaffInvitedOut.model_validate(staff, from_attributes=True))


@console_router.get("/staff/{staff_id}", response={200: StaffOut, ERROR_CODES: ErrorOut})
def get_staff(request: HttpRequest, staff_id: uuid.UUID) -> StaffUser:
    """One staff account."""
    require(_principal(request).staff.role, Permission.VIEW_STAFF)
    return selectors.get_staff(staff_id=staff_id)


@console_router.patch("/staff/{staff_id}", response={200: StaffOut, ERROR_CODES: ErrorOut})
def update_staff(request: HttpRequest, staff_id: uuid.UUID, payload: StaffUpdateIn) -> StaffUser:
    """Change a role, name, email or active flag."""
    actor = _principal(request).staff
    require(actor.role, Permission.MANAGE_STAFF)
    staff = selectors.get_staff(staff_id=staff_id)
    require_can_assign(actor.role, staff.role)
    if payload.role is not None:
        require_can_assign(actor.role, payload.role)
    return services.update_staff(staff=staff, **payload.model_dump(exclude_unset=True))


@console_router.delete("/staff/{staff_id}", response={200: StaffOut, ERROR_CODES: ErrorOut})
def deactivate_staff(request: HttpRequest, staff_id: uuid.UUID) -> StaffUser:
    """Deactivate an account (kept for the audit trail) and end its sessions."""
    actor = _principal(request).staff
    require(actor.role, Permission.MANAGE_STAFF)
    staff = selectors.get_staff(staff_id=staff_id)
    require_can_assign(actor.role, staff.role)
    return services.deactivate_staff(staff=staff)


# --- merchant portal -----------------------------------------------------------------------


@merchant_router.post("/auth/login", auth=None, response={200: TokenPairOut, ERROR_CODES: ErrorOut})
def merchant_login(request: HttpRequest, payload: LoginIn) -> TokenPairOut:
    """Log a merchant's staff member in."""
    _, pair = services.login_staff(
        username=payload.username,
        password=payload.password,
        ip=client_ip(request),
        merchant_portal=True,
    )
    return TokenPairOut(**vars(pair))


@merchant_router.post(
    "/auth/refresh", auth=None, response={200: TokenPairOut, ERROR_CODES: ErrorOut}
)
def merchant_refresh(request: HttpRequest, payload: RefreshIn) -> TokenPairOut:
    """Swap a refresh token for a new pair."""
    return TokenPairOut(**vars(services.refresh_staff_tokens(refresh_token=payload.refresh_token)))


@merchant_router.post("/auth/logout", response={204: None, ERROR_CODES: ErrorOut})
def merchant_logout(request: HttpRequest) -> Status[None]:
    """End this login."""
    tokens.revoke_session(session=_principal(request).session)
    return Status(204, None)


@merchant_router.get("/me", response={200: MeOut, ERROR_CODES: ErrorOut})
def merchant_me(request: HttpRequest) -> MeOut:
    """The signed-in merchant staff member and their merchant."""
    return _me(request, _principal(request).staff)
