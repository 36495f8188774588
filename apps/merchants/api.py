"""Console endpoints for merchants and their POS keys; the integration API's ping."""

import datetime as dt
import uuid

from django.http import FileResponse, HttpRequest
from django.utils import timezone
from ninja import File, Router, Status
from ninja.files import UploadedFile
from ninja.pagination import CursorPagination, paginate

from apps.accounts.auth import ConsoleAuth, MerchantPortalAuth, StaffPrincipal
from apps.accounts.permissions import Permission, has_permission, require
from apps.merchants import selectors, services, storage
from apps.merchants.auth import MachinePrincipal, SignedKeyAuth
from apps.merchants.errors import ContractNotFoundError, LogoNotFoundError
from apps.merchants.models import ApiKey, BusinessFormat, Contract, Merchant
from apps.merchants.schemas import (
    ApiKeyCreateIn,
    ApiKeyOut,
    ApiKeySecretOut,
    BusinessFormatIn,
    BusinessFormatOut,
    BusinessFormatPatchIn,
    ContractIn,
    ContractOut,
    MerchantCreateIn,
    MerchantDetailOut,
    MerchantOut,
    MerchantPatchIn,
    PingOut,
)
from atrium.idempotency import idempotent
from atrium.schemas import ERROR_CODES, ErrorOut

console_router = Router(tags=["console: merchants"], auth=ConsoleAuth())
integration_router = Router(tags=["integration"], auth=SignedKeyAuth())
merchant_router = Router(tags=["merchant: contract"], auth=MerchantPortalAuth())
# Optional so that the merchant is looked up (404) before a missing file is refused (400).
OPTIONAL_FILE = File(None)  # type: ignore[type-arg]  # ninja's marker, used as a default


def _staff_role(request: HttpRequest) -> str:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, StaffPrincipal)  # noqa: S101 - the router's auth guarantees it
    return principal.staff.role


def _secret_out(issued: services.IssuedApiKey) -> ApiKeySecretOut:
    out = ApiKeyOut.model_validate(issued.api_key, from_attributes=True)
    return ApiKeySecretOut(**out.model_dump(), secret=issued.secret)


def _detail(request: HttpRequest, merchant: Merchant) -> MerchantDetailOut:
    clear = has_permission(_staff_role(request), Permission.VIEW_MEMBER_PII)
    phone = services.contact_phone_of(merchant)
    out = MerchantOut.model_validate(merchant, from_attributes=True)
    return MerchantDetailOut(
        **out.model_dump(),
        contact_name=merchant.contact_name,
        contact_phone=phone if clear else services.mask_contact_phone(phone),
        personal_data_visible=clear,
    )


def _contract_out(contract: Contract) -> ContractOut:
    return ContractOut(
        id=contract.pk,
        merchant_id=contract.merchant_id,
        kind=contract.kind,
        commission_rate=contract.commission_rate,
        category_rates=dict(contract.category_rates),
        rent_amount=contract.rent_amount,
        minimum_amount=contract.minimum_amount,
        cycle=contract.cycle,
        payout_method=contract.payout_method,
        payout_account_name=contract.payout_account_name,
        payout_account=services.mask_account(services.payout_account_of(contract)),
        payout_bank_name=contract.payout_bank_name,
        effective_from=contract.effective_from,
        effective_to=contract.effective_to,
        note=contract.note,
        created_at=contract.created_at,
        created_by=contract.created_by,
    )


@console_router.get("/merchants", response={200: list[MerchantOut], ERROR_CODES: ErrorOut})
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def list_merchants(
    request: HttpRequest,
    q: str | None = None,
    business_format: str | None = None,
    status: str | None = None,
) -> object:
    """Merchants of the mall, newest first; `q` searches name, brand and unit."""
    require(_staff_role(request), Permission.VIEW_MERCHANTS)
    return selectors.list_merchants(query=q, business_format=business_format, status=status)


@console_router.post("/merchants", response={201: MerchantDetailOut, ERROR_CODES: ErrorOut})
@idempotent("console.merchants.create")
def create_merchant(request: HttpRequest, payload: MerchantCreateIn) -> Status[MerchantDetailOut]:
    """Add a merchant."""
    require(_staff_role(request), Permission.MANAGE_MERCHANTS)
    merchant = services.create_merchant(**payload.model_dump(), check_format=True)
    return Status(201, _detail(request, merchant))


@console_router.get(
    "/merchants/{merchant_id}", response={200: MerchantDetailOut, ERROR_CODES: ErrorOut}
)
def get_merchant(request: HttpRequest, merchant_id: uuid.UUID) -> MerchantDetailOut:
    """One merchant (the contact phone masked unless the staff may see personal data)."""
    require(_staff_role(request), Permission.VIEW_MERCHANTS)
    return _detail(request, selectors.get_merchant(merchant_id=merchant_id))


@console_router.patch(
    "/merchants/{merchant_id}", response={200: MerchantDetailOut, ERROR_CODES: ErrorOut}
)
def update_merchant(
    request: HttpRequest, merchant_id: uuid.UUID, payload: MerchantPatchIn
) -> MerchantDetailOut:
    """Change a merchant's directory fields (those given)."""
    require(_staff_role(request), Permission.MANAGE_MERCHANTS)
    merchant = selectors.get_merchant(merchant_id=merchant_id)
    changes = {k: str(v) for k, v in payload.model_dump(exclude_none=True).items()}
    return _detail(request, services.update_merchant(merchant=merchant, changes=changes))


@console_router.post(
    "/merchants/{merchant_id}/logo", response={200: MerchantOut, ERROR_CODES: ErrorOut}
)
def upload_logo(
    request: HttpRequest,
    merchant_id: uuid.UUID,
    file: UploadedFile | None = OPTIONAL_FILE,
) -> Merchant:
    """Upload the merchant's logo (JPEG, PNG or WebP, at most 2 MB; kept private per mall)."""
    require(_staff_role(request), Permission.MANAGE_MERCHANTS)
    merchant = selectors.get_merchant(merchant_id=merchant_id)
    content = file.read(storage.MAX_LOGO_BYTES + 1) if file is not None else b""
    return services.set_merchant_logo(merchant=merchant, content=content)


@console_router.get("/merchants/{merchant_id}/logo", response={ERROR_CODES: ErrorOut})
def download_logo(request: HttpRequest, merchant_id: uuid.UUID) -> FileResponse:
    """The merchant's logo."""
    require(_staff_role(request), Permission.VIEW_MERCHANTS)
    merchant = selectors.get_merchant(merchant_id=merchant_id)
    if not merchant.logo_path:
        raise LogoNotFoundError("this merchant has no logo")
    return FileResponse(
        storage.logo_path(merchant.logo_path).open("rb"), content_type=merchant.logo_content_type
    )


@console_router.get(
    "/business-formats", response={200: list[BusinessFormatOut], ERROR_CODES: ErrorOut}
)
def list_business_formats(request: HttpRequest) -> list[BusinessFormat]:
    """The mall's business formats, in display order."""
    require(_staff_role(request), Permission.VIEW_MERCHANTS)
    return list(selectors.list_business_formats())


@console_router.post("/business-formats", response={201: BusinessFormatOut, ERROR_CODES: ErrorOut})
def create_business_format(
    request: HttpRequest, payload: BusinessFormatIn
) -> Status[BusinessFormat]:
    """Add a business format."""
    require(_staff_role(request), Permission.MANAGE_MERCHANTS)
    return Status(201, services.create_business_format(**payload.model_dump()))


@console_router.patch(
    "/business-formats/{code}", response={200: BusinessFormatOut, ERROR_CODES: ErrorOut}
)
def update_business_format(
    request: HttpRequest, code: str, payload: BusinessFormatPatchIn
) -> BusinessFormat:
    """Rename, reorder or retire a business format (its code never changes)."""
    require(_staff_role(request), Permission.MANAGE_MERCHANTS)
    return services.update_business_format(
        business_format=selectors.get_business_format(code=code), **payload.model_dump()
    )


@console_router.get(
    "/merchants/{merchant_id}/contracts", response={200: list[ContractOut], ERROR_CODES: ErrorOut}
)
def list_contracts(request: HttpRequest, merchant_id: uuid.UUID) -> list[ContractOut]:
    """A merchant's contract history, newest version first (payout accounts masked)."""
    require(_staff_role(request), Permission.VIEW_MERCHANTS)
    merchant = selectors.get_merchant(merchant_id=merchant_id)
    return [_contract_out(c) for c in selectors.list_contracts(merchant=merchant)]


@console_router.post(
    "/merchants/{merchant_id}/contracts", response={201: ContractOut, ERROR_CODES: ErrorOut}
)
def create_contract(
    request: HttpRequest, merchant_id: uuid.UUID, payload: ContractIn
) -> Status[ContractOut]:
    """Add a contract version; it supersedes the older ones from its effective date."""
    require(_staff_role(request), Permission.MANAGE_MERCHANTS)
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    merchant = selectors.get_merchant(merchant_id=merchant_id)
    contract = services.create_contract(
        merchant=merchant, **payload.model_dump(), actor=f"staff:{principal.staff.pk}"
    )
    return Status(201, _contract_out(contract))


@merchant_router.get("/contract", response={200: ContractOut, ERROR_CODES: ErrorOut})
def get_own_contract(request: HttpRequest, day: dt.date | None = None) -> ContractOut:
    """This merchant's contract in force today (or on `day`)."""
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, StaffPrincipal)  # noqa: S101 - the router's auth guarantees it
    require(principal.staff.role, Permission.MERCHANT_SELL)
    assert principal.staff.merchant is not None  # noqa: S101 - merchant staff only
    contract = selectors.contract_in_force(
        merchant=principal.staff.merchant, day=day or timezone.localdate()
    )
    if contract is None:
        raise ContractNotFoundError("no contract in force")
    return _contract_out(contract)


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
