"""Statement endpoints: the console's settlement desk and the merchant portal's statements.

A merchant's staff reach only their own merchant's issued statements: every merchant read goes
through `get_merchant_statement(merchant=...)` with the signed-in staff's merchant, so another
merchant's id is "not found", exports included.
"""

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from apps.accounts.auth import ConsoleAuth, MerchantPortalAuth, StaffPrincipal
from apps.accounts.permissions import Permission, has_permission, require
from apps.merchants.models import Merchant
from apps.settlement import rendering, statement_selectors
from apps.settlement.models import Statement
from apps.settlement.services import payouts
from apps.settlement.services import statements as services
from apps.settlement.statement_choices import StatementStatus
from apps.settlement.statement_schemas import (
    BankFileIn,
    CloseIn,
    CloseOut,
    DisputeIn,
    IssueIn,
    PayoutIn,
    ResolveIn,
    StatementDetailOut,
    StatementOut,
    StatusCountOut,
)
from apps.settlement.tasks import tenant_today
from atrium.errors import PermissionDeniedError
from atrium.schemas import ERROR_CODES, ErrorOut

console_router = Router(tags=["console: settlement"], auth=ConsoleAuth())
merchant_router = Router(tags=["merchant: statements"], auth=MerchantPortalAuth())

EXPORT_FORMATS = ("csv", "xlsx", "pdf")


def _staff(request: HttpRequest, permission: Permission) -> StaffPrincipal:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, StaffPrincipal)  # noqa: S101 - the router's auth guarantees it
    require(principal.staff.role, permission)
    return principal


def _actor(principal: StaffPrincipal) -> str:
    return f"staff:{principal.staff.pk}"


def _merchant_staff(request: HttpRequest) -> tuple[Merchant, StaffPrincipal]:
    """The signed-in merchant staff's own merchant (never an id from the request)."""
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, StaffPrincipal)  # noqa: S101 - the router's auth guarantees it
    role = principal.staff.role
    if not (
        has_permission(role, Permission.MERCHANT_SELL)
        or has_permission(role, Permission.MERCHANT_MANAGE)
    ):
        raise PermissionDeniedError("your role does not allow this", role=role)
    assert principal.staff.merchant is not None  # noqa: S101 - merchant staff only
    return principal.staff.merchant, principal


def export_response(statement: Statement, fmt: str) -> HttpResponse:
    """The statement as a download in one of the export formats."""
    content_type, render = rendering.EXPORTS[fmt]
    response = HttpResponse(render(statement), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{statement.number}.{fmt}"'
    return response


# --- console ------------------------------------------------------------------------------------


class StatementFilter(Schema):
    status: StatementStatus | None = None
    merchant_id: uuid.UUID | None = None


@console_router.get(
    "/settlement/statements", response={200: list[StatementOut], ERROR_CODES: ErrorOut}
)
@paginate(LimitOffsetPagination)
def list_statements(request: HttpRequest, filters: Query[StatementFilter]) -> object:
    """Every merchant's statements, newest period first."""
    _staff(request, Permission.VIEW_FINANCE)
    return statement_selectors.list_statements(
        status=filters.status, merchant_id=filters.merchant_id
    )


@console_router.get(
    "/settlement/summary", response={200: list[StatusCountOut], ERROR_CODES: ErrorOut}
)
def statement_summary(request: HttpRequest) -> list[dict[str, object]]:
    """How many statements are in each state, and their net payable."""
    _staff(request, Permission.VIEW_FINANCE)
    counts = statement_selectors.dashboard_counts()
    return [{"status": s, **counts[s]} for s in StatementStatus.values if s in counts]


@console_router.post("/settlement/close", response={200: CloseOut, ERROR_CODES: ErrorOut})
def close_periods(request: HttpRequest, payload: CloseIn) -> dict[str, object]:
    """Close every merchant's periods that ended before `today` (what the hourly job does)."""
    principal = _staff(request, Permission.MANAGE_FINANCE)
    today = min(payload.today or tenant_today(), tenant_today())  # never close the future
    closed = services.close_due_periods(today=today, actor=_actor(principal))
    return {"closed": closed}


@console_router.post(
    "/settlement/statements/issue", response={200: list[StatementOut], ERROR_CODES: ErrorOut}
)
def issue_statements(request: HttpRequest, payload: IssueIn) -> list[Statement]:
    """Issue drafts to their merchants (all or nothing)."""
    principal = _staff(request, Permission.MANAGE_FINANCE)
    return services.issue_statements(statement_ids=payload.statement_ids, actor=_actor(principal))


@console_router.post("/settlement/bank-file", response={200: None, ERROR_CODES: ErrorOut})
def bank_file(request: HttpRequest, payload: BankFileIn) -> HttpResponse:
    """The bank batch transfer file (GBK CSV) for confirmed statements paid by bank."""
    _staff(request, Permission.MANAGE_FINANCE)
    found = [statement_selectors.get_statement(statement_id=i) for i in payload.statement_ids]
    response = HttpResponse(
        payouts.bank_transfer_file(statements=found), content_type="text/csv; charset=gbk"
    )
    response["Content-Disposition"] = 'attachment; filename="bank-transfers.csv"'
    return response


@console_router.get(
    "/settlement/statements/{statement_id}",
    response={200: StatementDetailOut, ERROR_CODES: ErrorOut},
)
def get_statement(request: HttpRequest, statement_id: uuid.UUID) -> Statement:
    _staff(request, Permission.VIEW_FINANCE)
    return statement_selectors.get_statement(statement_id=statement_id)


@console_router.post(
    "/settlement/statements/{statement_id}/resolve",
    response={200: StatementOut, ERROR_CODES: ErrorOut},
)
def resolve_dispute(request: HttpRequest, statement_id: uuid.UUID, payload: ResolveIn) -> Statement:
    """Answer a merchant's dispute; the statement then counts as confirmed."""
    principal = _staff(request, Permission.MANAGE_FINANCE)
    return services.resolve_dispute(
        statement_id=statement_id, resolution=payload.resolution, actor=_actor(principal)
    )


@console_router.post(
    "/settlement/statements/{statement_id}/payout",
    response={200: StatementOut, ERROR_CODES: ErrorOut},
)
def record_payout(request: HttpRequest, statement_id: uuid.UUID, payload: PayoutIn) -> Statement:
    """Record a bank payout of a confirmed statement, with the bank's reference."""
    principal = _staff(request, Permission.MANAGE_FINANCE)
    return services.record_payout(
        statement_id=statement_id, reference=payload.reference, actor=_actor(principal),
        route="bank",
    )  # fmt: skip


@console_router.post(
    "/settlement/statements/{statement_id}/pay-alipay",
    response={200: StatementOut, ERROR_CODES: ErrorOut},
)
def pay_via_alipay(request: HttpRequest, statement_id: uuid.UUID) -> Statement:
    """Pay a confirmed statement through Alipay royalty settle (when that is its route)."""
    principal = _staff(request, Permission.MANAGE_FINANCE)
    return payouts.pay_via_alipay(statement_id=statement_id, actor=_actor(principal))


def _console_export(fmt: str) -> Callable[[HttpRequest, uuid.UUID], HttpResponse]:
    def export(request: HttpRequest, statement_id: uuid.UUID) -> HttpResponse:
        _staff(request, Permission.VIEW_FINANCE)
        return export_response(statement_selectors.get_statement(statement_id=statement_id), fmt)

    export.__name__ = f"export_statement_{fmt}"
    export.__doc__ = f"The statement as {fmt.upper()}."
    return export


for _fmt in EXPORT_FORMATS:
    console_router.get(
        f"/settlement/statements/{{statement_id}}/export.{_fmt}",
        response={200: None, ERROR_CODES: ErrorOut},
        operation_id=f"console_export_statement_{_fmt}",
    )(_console_export(_fmt))


# --- merchant portal ------------------------------------------------------------------------------


@merchant_router.get("/statements", response={200: list[StatementOut], ERROR_CODES: ErrorOut})
@paginate(LimitOffsetPagination)
def list_my_statements(request: HttpRequest) -> object:
    """The merchant's own issued statements, newest first."""
    merchant, _ = _merchant_staff(request)
    return statement_selectors.list_merchant_statements(merchant=merchant)


@merchant_router.get(
    "/statements/{statement_id}", response={200: StatementDetailOut, ERROR_CODES: ErrorOut}
)
def get_my_statement(request: HttpRequest, statement_id: uuid.UUID) -> Statement:
    merchant, _ = _merchant_staff(request)
    return statement_selectors.get_merchant_statement(merchant=merchant, statement_id=statement_id)


def _own_for_change(request: HttpRequest, statement_id: uuid.UUID) -> tuple[Merchant, str]:
    """Found first (another merchant's id is 404), then only a manager may answer it."""
    merchant, principal = _merchant_staff(request)
    statement_selectors.get_merchant_statement(merchant=merchant, statement_id=statement_id)
    require(principal.staff.role, Permission.MERCHANT_MANAGE)
    return merchant, _actor(principal)


@merchant_router.post(
    "/statements/{statement_id}/confirm", response={200: StatementOut, ERROR_CODES: ErrorOut}
)
def confirm_statement(request: HttpRequest, statement_id: uuid.UUID) -> Statement:
    """Agree with an issued statement (a merchant manager)."""
    merchant, actor = _own_for_change(request, statement_id)
    return services.confirm_statement(merchant=merchant, statement_id=statement_id, actor=actor)


@merchant_router.post(
    "/statements/{statement_id}/dispute", response={200: StatementOut, ERROR_CODES: ErrorOut}
)
def dispute_statement(
    request: HttpRequest, statement_id: uuid.UUID, payload: DisputeIn
) -> Statement:
    """Disagree with an issued statement, saying why (a merchant manager)."""
    merchant, actor = _own_for_change(request, statement_id)
    return services.dispute_statement(
        merchant=merchant, statement_id=statement_id, reason=payload.reason, actor=actor
    )


def _merchant_export(fmt: str) -> Callable[[HttpRequest, uuid.UUID], HttpResponse]:
    def export(request: HttpRequest, statement_id: uuid.UUID) -> HttpResponse:
        merchant, _ = _merchant_staff(request)
        statement = statement_selectors.get_merchant_statement(
            merchant=merchant, statement_id=statement_id
        )
        return export_response(statement, fmt)

    export.__name__ = f"export_my_statement_{fmt}"
    export.__doc__ = f"The merchant's statement as {fmt.upper()}."
    return export


for _fmt in EXPORT_FORMATS:
    merchant_router.get(
        f"/statements/{{statement_id}}/export.{_fmt}",
        response={200: None, ERROR_CODES: ErrorOut},
        operation_id=f"merchant_export_statement_{_fmt}",
    )(_merchant_export(_fmt))
