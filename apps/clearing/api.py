"""Clearing endpoints: the console (alliance settings, liability, every merchant's position) and
the merchant portal (its own position and clearing lines, never another merchant's)."""

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router
from ninja.pagination import CursorPagination, paginate

from apps.accounts.auth import ConsoleAuth, MerchantPortalAuth, StaffPrincipal
from apps.accounts.permissions import Permission, require
from apps.clearing import selectors, services
from apps.clearing.schemas import (
    ClearingLineOut,
    ClearingSettingsIn,
    ClearingSettingsOut,
    DateRange,
    LiabilityOut,
    PositionOut,
)
from apps.merchants.models import Merchant
from atrium.schemas import ERROR_CODES, ErrorOut

console_router = Router(tags=["console: clearing"], auth=ConsoleAuth())
merchant_router = Router(tags=["merchant: clearing"], auth=MerchantPortalAuth())


def _staff(request: HttpRequest, permission: Permission) -> StaffPrincipal:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, StaffPrincipal)  # noqa: S101 - the router's auth guarantees it
    require(principal.staff.role, permission)
    return principal


def _merchant(request: HttpRequest) -> Merchant:
    """The signed-in staff's own merchant (never an id from the request)."""
    staff = _staff(request, Permission.MERCHANT_SELL).staff
    assert staff.merchant is not None  # noqa: S101 - MerchantPortalAuth admits merchant staff only
    return staff.merchant


@console_router.get(
    "/clearing/settings", response={200: ClearingSettingsOut, ERROR_CODES: ErrorOut}
)
def get_clearing_settings(request: HttpRequest) -> Any:
    """The clearing value of a point and the funding policy in force."""
    _staff(request, Permission.VIEW_FINANCE)
    return selectors.clearing_settings()


@console_router.put(
    "/clearing/settings", response={200: ClearingSettingsOut, ERROR_CODES: ErrorOut}
)
def put_clearing_settings(request: HttpRequest, payload: ClearingSettingsIn) -> Any:
    """Change the clearing value and the funding policy (lots earned before keep theirs)."""
    principal = _staff(request, Permission.MANAGE_FINANCE)
    services.update_clearing_settings(
        point_value=payload.point_value,
        source=payload.funding_source,
        merchant_share=payload.merchant_share,
        actor=principal.scope_id,
    )
    return selectors.clearing_settings()


@console_router.get("/clearing/liability", response={200: LiabilityOut, ERROR_CODES: ErrorOut})
def get_liability(request: HttpRequest) -> Any:
    """The mall's outstanding points liability in yuan, by funder."""
    _staff(request, Permission.VIEW_FINANCE)
    return selectors.outstanding_liability()


@console_router.get("/clearing/positions", response={200: list[PositionOut], ERROR_CODES: ErrorOut})
def list_positions(request: HttpRequest, dates: Query[DateRange]) -> Any:
    """Every merchant's points issued, accepted, expired and net clearing position."""
    _staff(request, Permission.VIEW_FINANCE)
    return selectors.all_positions(start=dates.start, end=dates.end)


@merchant_router.get("/clearing/position", response={200: PositionOut, ERROR_CODES: ErrorOut})
def get_position(request: HttpRequest, dates: Query[DateRange]) -> Any:
    """This merchant's points issued, accepted, expired and net clearing position."""
    return selectors.merchant_position(
        merchant=_merchant(request), start=dates.start, end=dates.end
    )


@merchant_router.get(
    "/clearing/lines", response={200: list[ClearingLineOut], ERROR_CODES: ErrorOut}
)
@paginate(CursorPagination, ordering=("-occurred_at", "-id"))
def list_lines(request: HttpRequest) -> Any:
    """This merchant's clearing lines, newest first."""
    return selectors.list_merchant_lines(merchant=_merchant(request))
