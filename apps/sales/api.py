"""Sales endpoints: the POS integration API, the console (sales, CSV import, rule preview and
backtest, receipt review), the merchant portal's cashier screen and the member's receipts.

Every surface calls the same services (`record_sale`, `refund_sale`); a till's single sale
(POS or the cashier screen) goes through `record_sale_grouped`, which writes it together with
the process's concurrent ones (docs/adr/0017-group-commit-of-pos-sales.md). A new sale answers
201; a retry with the same body answers 200 with the first result; another body under the same
`external_id` (or `refund_id`) answers 409 `idempotency.conflict`.
"""

import datetime as dt
import uuid
from typing import Any

from django.http import FileResponse, HttpRequest
from django.utils import timezone
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import CursorPagination, paginate
from pydantic import ValidationError

from apps.accounts.auth import ConsoleAuth, MerchantPortalAuth, StaffPrincipal
from apps.accounts.permissions import Permission, require
from apps.members.auth import MemberAuth, MemberPrincipal
from apps.members.selectors import get_member
from apps.merchants.auth import MachinePrincipal, SignedKeyAuth
from apps.merchants.models import Merchant
from apps.merchants.selectors import get_merchant
from apps.sales import selectors, services, storage
from apps.sales.choices import Channel, ReceiptStatus
from apps.sales.models import Receipt, Sale
from apps.sales.schemas import (
    BacktestIn,
    BacktestOut,
    BatchIn,
    BatchItemOut,
    BatchOut,
    ItemIn,
    MemberRefIn,
    PaymentIn,
    PortalSaleIn,
    PreviewIn,
    QuoteOut,
    ReceiptApproveIn,
    ReceiptOut,
    ReceiptRejectIn,
    ReceiptReviewOut,
    RefundIn,
    RefundOut,
    SaleDetailOut,
    SaleIn,
    SaleOut,
    SaleResultOut,
)
from apps.sales.storage import MAX_PHOTO_BYTES
from atrium.errors import DomainError
from atrium.schemas import ERROR_CODES, ErrorOut

integration_router = Router(tags=["integration: sales"], auth=SignedKeyAuth())
console_router = Router(tags=["console: sales"], auth=ConsoleAuth())
merchant_router = Router(tags=["merchant: sales"], auth=MerchantPortalAuth())
member_router = Router(tags=["member: receipts"], auth=MemberAuth())

SALE_CODES = frozenset({200, 201})


# --- helpers: principals and conversions ----------------------------------------------------


def _machine(request: HttpRequest) -> MachinePrincipal:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, MachinePrincipal)  # noqa: S101 - the router's auth guarantees it
    return principal


def _staff(request: HttpRequest, permission: Permission) -> StaffPrincipal:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, StaffPrincipal)  # noqa: S101 - the router's auth guarantees it
    require(principal.staff.role, permission)
    return principal


def _cashier(request: HttpRequest) -> tuple[Merchant, str]:
    """The merchant of the signed-in merchant staff (never an id from the request), and actor."""
    staff = _staff(request, Permission.MERCHANT_SELL).staff
    assert staff.merchant is not None  # noqa: S101 - MerchantPortalAuth admits merchant staff only
    return staff.merchant, f"staff:{staff.pk}"


def _member(request: HttpRequest) -> MemberPrincipal:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, MemberPrincipal)  # noqa: S101 - the router's auth guarantees it
    return principal


def _member_ref(ref: MemberRefIn | None) -> services.MemberRef | None:
    if ref is None:
        return None
    return services.MemberRef(code=ref.code, phone=ref.phone, member_no=ref.member_no)


def _payments(payments: list[PaymentIn]) -> list[services.PaymentLine]:
    return [services.PaymentLine(p.method, p.amount, p.trade_no) for p in payments]


def _items(items: list[ItemIn]) -> list[services.ItemLine]:
    return [services.ItemLine(i.amount, i.sku, i.name, i.category, i.quantity) for i in items]


def sale_request(
    payload: SaleIn | PortalSaleIn, *, channel: str, actor: str
) -> services.SaleRequest:
    """A sale body as the request `record_sale` takes (a till's own id, or a new one)."""
    return services.SaleRequest(
        external_id=payload.external_id or uuid.uuid4().hex,
        occurred_at=payload.occurred_at,
        total=payload.total,
        payments=_payments(payload.payments),
        items=_items(payload.items),
        member_ref=_member_ref(payload.member),
        channel=channel,
        actor=actor,
    )


def result_out(result: services.SaleResult) -> SaleResultOut:
    return SaleResultOut(
        sale_id=result.sale.pk,
        external_id=result.sale.external_id,
        member_id=result.sale.member_id,
        points_earned=result.points_earned,
        points_balance=result.points_balance,
        growth_earned=result.growth_earned,
        tier=result.tier,
    )


def _record(
    payload: SaleIn | PortalSaleIn, *, merchant: Merchant, channel: str, actor: str
) -> Status[SaleResultOut]:
    # A till's call is grouped with the concurrent ones of this process (one transaction).
    result = services.record_sale_grouped(
        merchant=merchant, request=sale_request(payload, channel=channel, actor=actor)
    )
    return Status(201 if result.created else 200, result_out(result))


def _refund_out(result: services.RefundResult) -> RefundOut:
    return RefundOut(
        refund_id=result.refund.refund_id,
        sale_id=result.sale.pk,
        external_id=result.sale.external_id,
        amount=result.refund.amount,
        refunded_total=result.sale.refunded_total,
        points_reversed=result.refund.points_reversed,
        growth_reversed=result.refund.growth_reversed,
        points_balance=result.refund.points_balance,
        status=result.sale.status,
    )


def _refund(
    payload: RefundIn, *, merchant: Merchant, external_id: str, actor: str
) -> Status[RefundOut]:
    result = services.refund_sale(
        merchant=merchant,
        external_id=external_id,
        refund_id=payload.refund_id,
        amount=payload.amount,
        actor=actor,
    )
    return Status(201 if result.created else 200, _refund_out(result))


def _error_out(code: str, message: str, **extra: Any) -> ErrorOut:
    return ErrorOut(code=code, message=message, extra=extra)


def _batch_request(raw: Any, actor: str) -> services.SaleRequest | ErrorOut:
    """One batch entry as a sale request, or the error that makes it invalid."""
    if not isinstance(raw, dict):
        errors = [{"loc": [], "msg": "a sale must be an object"}]
        return _error_out("request.invalid", "the sale is not valid", errors=errors)
    try:
        payload = SaleIn.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {"loc": [str(part) for part in error["loc"]], "msg": error["msg"]}
            for error in exc.errors()
        ]
        return _error_out("request.invalid", "the sale is not valid", errors=errors)
    return sale_request(payload, channel=Channel.POS, actor=actor)


def _batch_items(raws: list[Any], merchant: Merchant, actor: str) -> list[BatchItemOut]:
    """Every batch entry's outcome, in order: the valid ones recorded together."""
    prepared = [_batch_request(raw, actor) for raw in raws]
    requests = [p for p in prepared if isinstance(p, services.SaleRequest)]
    recorded = iter(services.record_sales(merchant=merchant, requests=requests))
    results = []
    for index, (raw, entry) in enumerate(zip(raws, prepared, strict=True)):
        given = raw.get("external_id") if isinstance(raw, dict) else None
        external_id = given if isinstance(given, str) else None
        outcome = next(recorded) if isinstance(entry, services.SaleRequest) else entry
        if isinstance(outcome, ErrorOut):
            item = BatchItemOut(
                index=index, external_id=external_id, status="failed", error=outcome
            )
        elif isinstance(outcome, DomainError):
            error = _error_out(outcome.code, outcome.message, **outcome.extra)
            item = BatchItemOut(index=index, external_id=external_id, status="failed", error=error)
        else:
            item = BatchItemOut(
                index=index,
                external_id=external_id,
                status="created" if outcome.created else "replayed",
                result=result_out(outcome),
            )
        results.append(item)
    return results


def _local_start(day: dt.date | None) -> dt.datetime | None:
    if day is None:
        return None
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_default_timezone())


# --- integration (POS, HMAC-signed) --------------------------------------------------------


@integration_router.post("/sales", response={SALE_CODES: SaleResultOut, ERROR_CODES: ErrorOut})
def create_sale(request: HttpRequest, payload: SaleIn) -> Status[SaleResultOut]:
    """Record a sale from a till (201; a retry with the same body: 200 with the first result)."""
    principal = _machine(request)
    return _record(
        payload,
        merchant=principal.merchant,
        channel=Channel.POS,
        actor=f"api_key:{principal.api_key.pk}",
    )


@integration_router.post("/sales/batch", response={200: BatchOut, ERROR_CODES: ErrorOut})
def create_sales_batch(request: HttpRequest, payload: BatchIn) -> BatchOut:
    """Record up to 500 sales, each on its own: per-sale results and errors, in order (the valid
    ones set-based, in one transaction; the sales of members whose accounts a concurrent write
    holds in a second one, once the first has committed)."""
    principal = _machine(request)
    actor = f"api_key:{principal.api_key.pk}"
    results = _batch_items(list(payload.sales), principal.merchant, actor)
    counts = {
        s: sum(1 for r in results if r.status == s) for s in ("created", "replayed", "failed")
    }
    return BatchOut(**counts, results=results)


@integration_router.get(
    "/sales/{external_id}", response={200: SaleDetailOut, ERROR_CODES: ErrorOut}
)
def get_pos_sale(request: HttpRequest, external_id: str) -> Sale:
    """One of this merchant's sales, with its lines and refunds."""
    merchant = _machine(request).merchant
    return selectors.get_merchant_sale(merchant=merchant, external_id=external_id)


@integration_router.post(
    "/sales/{external_id}/refunds", response={SALE_CODES: RefundOut, ERROR_CODES: ErrorOut}
)
def create_pos_refund(
    request: HttpRequest, external_id: str, payload: RefundIn
) -> Status[RefundOut]:
    """Refund all or part of a sale (201; a retry of the same refund_id: 200)."""
    principal = _machine(request)
    return _refund(
        payload,
        merchant=principal.merchant,
        external_id=external_id,
        actor=f"api_key:{principal.api_key.pk}",
    )


# --- merchant portal (the cashier screen) ---------------------------------------------------


@merchant_router.post("/sales", response={SALE_CODES: SaleResultOut, ERROR_CODES: ErrorOut})
def create_portal_sale(request: HttpRequest, payload: PortalSaleIn) -> Status[SaleResultOut]:
    """Record a sale at the cashier screen: scan the member code, enter amount and payments."""
    merchant, actor = _cashier(request)
    return _record(payload, merchant=merchant, channel=Channel.PORTAL, actor=actor)


@merchant_router.get("/sales", response={200: list[SaleOut], ERROR_CODES: ErrorOut})
@paginate(CursorPagination, ordering=("-occurred_at", "-id"))
def list_portal_sales(
    request: HttpRequest, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> object:
    """This merchant's sales, newest first (dates are local days, both included)."""
    merchant, _ = _cashier(request)
    until = _local_start(date_to + dt.timedelta(days=1)) if date_to else None
    return selectors.list_sales(merchant=merchant, since=_local_start(date_from), until=until)


@merchant_router.get("/sales/{external_id}", response={200: SaleDetailOut, ERROR_CODES: ErrorOut})
def get_portal_sale(request: HttpRequest, external_id: str) -> Sale:
    """One of this merchant's sales."""
    merchant, _ = _cashier(request)
    return selectors.get_merchant_sale(merchant=merchant, external_id=external_id)


@merchant_router.post(
    "/sales/{external_id}/refunds", response={SALE_CODES: RefundOut, ERROR_CODES: ErrorOut}
)
def create_portal_refund(
    request: HttpRequest, external_id: str, payload: RefundIn
) -> Status[RefundOut]:
    """Refund all or part of one of this merchant's sales."""
    merchant, actor = _cashier(request)
    return _refund(payload, merchant=merchant, external_id=external_id, actor=actor)


# --- console ----------------------------------------------------------------------------------


class SalesFilter(Schema):
    merchant_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@console_router.get("/sales", response={200: list[SaleOut], ERROR_CODES: ErrorOut})
@paginate(CursorPagination, ordering=("-occurred_at", "-id"))
def list_sales(request: HttpRequest, filters: Query[SalesFilter]) -> object:
    """Sales of the whole mall, newest first, by merchant, member and local dates (included)."""
    _staff(request, Permission.VIEW_MERCHANTS)
    until = _local_start(filters.date_to + dt.timedelta(days=1)) if filters.date_to else None
    return selectors.list_sales(
        merchant_id=filters.merchant_id, member_id=filters.member_id,
        since=_local_start(filters.date_from), until=until,
    )  # fmt: skip


@console_router.get("/sales/{sale_id}", response={200: SaleDetailOut, ERROR_CODES: ErrorOut})
def get_sale(request: HttpRequest, sale_id: uuid.UUID) -> Sale:
    """One sale, with its lines and refunds."""
    _staff(request, Permission.VIEW_MERCHANTS)
    return selectors.get_sale(sale_id=sale_id)


@console_router.post("/loyalty/preview", response={200: QuoteOut, ERROR_CODES: ErrorOut})
def preview_earning(request: HttpRequest, payload: PreviewIn) -> Any:
    """What a sale would earn and why, with the rules in force (plus drafts, minus retired)."""
    _staff(request, Permission.VIEW_MEMBERS)
    return services.preview_sale(
        merchant=get_merchant(merchant_id=payload.merchant_id),
        occurred_at=payload.occurred_at or timezone.now(),
        total=payload.total, payments=_payments(payload.payments), items=_items(payload.items),
        member=get_member(member_id=payload.member_id) if payload.member_id else None,
        tier_code=payload.tier,
        added_rules=services.find_rules(payload.rule_ids),
        removed_rules=services.find_rules(payload.retired_rule_ids),
    )  # fmt: skip


@console_router.post("/loyalty/backtest", response={200: BacktestOut, ERROR_CODES: ErrorOut})
def backtest_earning(request: HttpRequest, payload: BacktestIn) -> Any:
    """Points and cost of a rule change over the last days of sales (30 unless told)."""
    _staff(request, Permission.MANAGE_PROGRAM)
    added = services.find_rules(payload.rule_ids)
    if payload.rule is not None:
        added.append(services.draft_rule(**payload.rule.model_dump()))
    return services.backtest_rules(
        added_rules=added,
        removed_rules=services.find_rules(payload.retired_rule_ids),
        days=payload.days,
    )


@console_router.get("/receipts", response={200: list[ReceiptReviewOut], ERROR_CODES: ErrorOut})
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def list_receipts(request: HttpRequest, status: ReceiptStatus | None = None) -> object:
    """Uploaded receipts, newest first (`status=pending` is the review queue)."""
    _staff(request, Permission.MANAGE_MEMBERS)
    return selectors.list_receipts(status=status)


@console_router.get("/receipts/{receipt_id}/photo", response={200: None, ERROR_CODES: ErrorOut})
def receipt_photo(request: HttpRequest, receipt_id: uuid.UUID) -> FileResponse:
    """The receipt's photo, from this mall's private storage."""
    _staff(request, Permission.MANAGE_MEMBERS)
    receipt = selectors.get_receipt(receipt_id=receipt_id)
    path = storage.photo_path(receipt.photo_path)
    return FileResponse(path.open("rb"), content_type=receipt.photo_content_type)


@console_router.post(
    "/receipts/{receipt_id}/approve", response={200: ReceiptReviewOut, ERROR_CODES: ErrorOut}
)
def approve_receipt(
    request: HttpRequest, receipt_id: uuid.UUID, payload: ReceiptApproveIn
) -> Receipt:
    """Approve a receipt: its sale is recorded for the member, once."""
    principal = _staff(request, Permission.MANAGE_MEMBERS)
    return services.approve_receipt(
        receipt_id=str(receipt_id), actor=f"staff:{principal.staff.pk}",
        amount=payload.amount, payment_method=payload.payment_method,
    )  # fmt: skip


@console_router.post(
    "/receipts/{receipt_id}/reject", response={200: ReceiptReviewOut, ERROR_CODES: ErrorOut}
)
def reject_receipt(
    request: HttpRequest, receipt_id: uuid.UUID, payload: ReceiptRejectIn
) -> Receipt:
    """Turn a receipt down, with the reason the member will see."""
    principal = _staff(request, Permission.MANAGE_MEMBERS)
    return services.reject_receipt(
        receipt_id=str(receipt_id), actor=f"staff:{principal.staff.pk}", reason=payload.reason
    )


# --- member app ---------------------------------------------------------------------------------


@member_router.post("/receipts", response={201: ReceiptOut, ERROR_CODES: ErrorOut})
def submit_receipt(
    request: HttpRequest,
    merchant_id: Form[uuid.UUID],
    receipt_no: Form[str],
    amount: Form[str],
    occurred_on: Form[dt.date],
    photo: File[UploadedFile],
) -> Status[Receipt]:
    """Upload a receipt photo for points; staff review it (JPEG, PNG or WebP, up to 10 MB)."""
    receipt = services.submit_receipt(
        member=_member(request).member,
        merchant=get_merchant(merchant_id=merchant_id),
        receipt_no=receipt_no, amount=amount, occurred_on=occurred_on,
        photo=photo.read(MAX_PHOTO_BYTES + 1),
    )  # fmt: skip
    return Status(201, receipt)


@member_router.get("/receipts", response={200: list[ReceiptOut], ERROR_CODES: ErrorOut})
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def my_receipts(request: HttpRequest) -> object:
    """My uploaded receipts and their review status, newest first."""
    return selectors.list_receipts(member=_member(request).member)


@member_router.get("/receipts/{receipt_id}", response={200: ReceiptOut, ERROR_CODES: ErrorOut})
def my_receipt(request: HttpRequest, receipt_id: uuid.UUID) -> Receipt:
    """One of my receipts (another member's is not found)."""
    return selectors.get_receipt(receipt_id=receipt_id, member=_member(request).member)
