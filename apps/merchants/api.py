"""Console endpoints for merchants and their POS keys; the integration API's ping."""

import uuid

from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import CursorPagination, paginate

from apps.accounts.auth import ConsoleAuth, StaffPrincipal
from apps.accounts.permissions import Permission, require
from apps.merchants import selectors, services
from apps.merchants.auth import MachinePrincipal, SignedKeyAuth
from apps.merchants.models import ApiKey, Merchant
from apps.merchants.schemas import (
    ApiKeyCreateIn,
    ApiKeyOut,
    ApiKeySecretOut,
    MerchantCreateIn,
    MerchantOut,
    PingOut,
)
from atrium.idempotency import idempotent
from atrium.schemas import ERROR_CODES, ErrorOut

console_router = Router(tags=["console: merchants"], auth=ConsoleAuth())
integration_router = Router(tags=["integration"], auth=SignedKeyAuth())


def _staff_role(request: HttpRequest) -> str:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, StaffPrincipal)  # noqa: S101 - the router's auth guarantees it
    return principal.staff.role


def _secret_out(issued: services.IssuedApiKey) -> ApiKeySecretOut:
    out = ApiKeyOut.model_validate(issued.api_key, from_attributes=True)
    return ApiKeySecretOut(**out.model_dump(), secret=issued.secret)


@console_router.get("/merchants", response={200: list[MerchantOut], ERROR_CODES: ErrorOut})
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def list_merchants(request: HttpRequest) -> object:
    """Merchants of the mall, newest first."""
    require(_staff_role(request), Permission.VIEW_MERCHANTS)
    return selectors.list_merchants()


@console_router.post("/merchants", response={201: MerchantOut, ERROR_CODES: ErrorOut})
@idempotent("console.merchants.create")
def create_merchant(request: HttpRequest, payload: MerchantCreateIn) -> Status[MerchantOut]:
    """Add a merchant."""
    require(_staff_role(request), Permission.MANAGE_MERCHANTS)
    merchant = services.create_merchant(**payload.model_dump())
    return Status(201, MerchantOut.model_validate(merchant, from_attributes=True))


@console_router.get("/merchants/{merchant_id}", response={200: MerchantOut, ERROR_CODES: ErrorOut})
def get_merchant(request: HttpRequest, merchant_id: uuid.UUID) -> Merchant:
    """One merchant."""
    require(_staff_role(request), Permission.VIEW_MERCHANTS)
    return selectors.get_merchant(merchant_id=merchant_id)


@console_router.get(
    "/merchants/{merchant_id}/api-keys", response={200: list[ApiKeyOut], ERROR_CODES: ErrorOut}
)
def list_api_keys(request: HttpRequest, merchant_id: uuid.UUID) -> list[ApiKey]:
    """A merchant's POS keys (secrets are never shown again)."""
    require(_staff_role(request), Permission.MANAGE_API_KEYS)
    return list(selectors.list_api_keys(merchant=selectors.get_merchant(merchant_id=merchant_id)))


@console_router.post(
    "/merchants/{merchant_id}/api-keys", response={201: ApiKeySecretOut, ERROR_CODES: ErrorOut}
)
def create_api_key(
    request: HttpRequest, merchant_id: uuid.UUID, payload: ApiKeyCreateIn | None = None
) -> Status[ApiKeySecretOut]:
    """Issue a POS key; the secret is in this response only."""
    require(_staff_role(request), Permission.MANAGE_API_KEYS)
    merchant = selectors.get_merchant(merchant_id=merchant_id)
    issued = services.create_api_key(merchant=merchant, name=payload.name if payload else "")
    return Status(201, _secret_out(issued))


@console_router.post(
    "/merchants/{merchant_id}/api-keys/{key_id}/rotate",
    response={201: ApiKeySecretOut, ERROR_CODES: ErrorOut},
)
def rotate_api_key(
    request: HttpRequest, merchant_id: uuid.UUID, key_id: str
) -> Status[ApiKeySecretOut]:
    """Replace a key with a new secret; the old key stops working at once."""
    require(_staff_role(request), Permission.MANAGE_API_KEYS)
    merchant = selectors.get_merchant(merchant_id=merchant_id)
    api_key = selectors.get_api_key(merchant=merchant, key_id=key_id)
    return Status(201, _secret_out(services.rotate_api_key(api_key=api_key)))


@console_router.delete(
    "/merchants/{merchant_id}/api-keys/{key_id}", response={200: ApiKeyOut, ERROR_CODES: ErrorOut}
)
def revoke_api_key(request: HttpRequest, merchant_id: uuid.UUID, key_id: str) -> ApiKey:
    """Revoke a key."""
    require(_staff_role(request), Permission.MANAGE_API_KEYS)
    merchant = selectors.get_merchant(merchant_id=merchant_id)
    return services.revoke_api_key(api_key=selectors.get_api_key(merchant=merchant, key_id=key_id))


@integration_router.get("/ping", response={200: PingOut, ERROR_CODES: ErrorOut})
def ping(request: HttpRequest) -> PingOut:
    """Check a POS's signing: answers the merchant the key belongs to."""
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, MachinePrincipal)  # noqa: S101 - the router's auth guarantees it
    return PingOut(
        ok=True,
        tenant=request.tenant.slug,  # type: ignore[attr-defined]  # set by tenant middleware
        merchant=MerchantOut.model_validate(principal.merchant, from_attributes=True),
        key_id=principal.api_key.key_id,
    )
