"""Split rules (console: draft, version, publish, preview) and split lines (merchant portal:
its own sales' lines only, never another merchant's)."""

import datetime as dt
import uuid

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Status
from ninja.pagination import CursorPagination, paginate

from apps.accounts.auth import ConsoleAuth, MerchantPortalAuth, StaffPrincipal
from apps.accounts.permissions import Permission, require
from apps.merchants.models import Merchant
from apps.merchants.selectors import get_merchant
from apps.sales.selectors import get_merchant_sale
from apps.sales.services import ItemLine, PaymentLine, clean_sale
from apps.settlement import split_selectors as selectors
from apps.settlement.models import SplitLine, SplitRule
from apps.settlement.services import rules as services
from apps.settlement.split_schemas import (
    PlannedLineOut,
    SplitLineOut,
    SplitPreviewIn,
    SplitPreviewOut,
    SplitRuleIn,
    SplitRuleOut,
    SplitRulePatchIn,
)
from apps.settlement.splitting import Portion
from atrium.schemas import ERROR_CODES, ErrorOut

console_router = Router(tags=["console: split rules"], auth=ConsoleAuth())
merchant_router = Router(tags=["merchant: split lines"], auth=MerchantPortalAuth())


def _staff(request: HttpRequest, permission: Permission) -> str:
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, StaffPrincipal)  # noqa: S101 - the router's auth guarantees it
    require(principal.staff.role, permission)
    return f"staff:{principal.staff.pk}"


def _own_merchant(request: HttpRequest) -> Merchant:
    """The signed-in merchant staff's own merchant (never an id from the request)."""
    principal = request.auth  # type: ignore[attr-defined]  # set by ninja's auth
    assert isinstance(principal, StaffPrincipal)  # noqa: S101 - the router's auth guarantees it
    require(principal.staff.role, Permission.MERCHANT_SELL)
    assert principal.staff.merchant is not None  # noqa: S101 - merchant staff only
    return principal.staff.merchant


def _values(payload: SplitRuleIn | SplitRulePatchIn, *, partial: bool) -> dict[str, object]:
    given = payload.model_dump(exclude_unset=partial)
    if "merchant_id" in given:
        merchant_id = given.pop("merchant_id")
        given["merchant"] = get_merchant(merchant_id=merchant_id) if merchant_id else None
    if "payment_method" in given:
        given["payment_method"] = given["payment_method"] or ""
    if not partial and given.get("effective_from") is None:
        given.pop("effective_from", None)
    for name in ("name", "business_format", "category", "campaign"):
        if partial and name in given and given[name] is None:
            given.pop(name)
    return given


@console_router.get("/split-rules", response={200: list[SplitRuleOut], ERROR_CODES: ErrorOut})
def list_split_rules(
    request: HttpRequest, kind: str | None = None, status: str | None = None
) -> list[SplitRule]:
    """Every version of every split rule (drafts and published), highest priority first."""
    _staff(request, Permission.VIEW_FINANCE)
    return list(selectors.list_rules(kind=kind, status=status)[:500])


@console_router.post("/split-rules", response={201: SplitRuleOut, ERROR_CODES: ErrorOut})
def create_split_rule(request: HttpRequest, payload: SplitRuleIn) -> Status[SplitRule]:
    """Draft a new split rule (publish it to put it in force)."""
    actor = _staff(request, Permission.MANAGE_FINANCE)
    return Status(201, services.create_rule(values=_values(payload, partial=False), actor=actor))


@console_router.get(
    "/split-rules/{split_rule_id}", response={200: SplitRuleOut, ERROR_CODES: ErrorOut}
)
def get_split_rule(request: HttpRequest, split_rule_id: uuid.UUID) -> SplitRule:
    """One version of a split rule."""
    _staff(request, Permission.VIEW_FINANCE)
    return selectors.get_rule(rule_id=split_rule_id)


@console_router.patch(
    "/split-rules/{split_rule_id}", response={200: SplitRuleOut, ERROR_CODES: ErrorOut}
)
def update_split_rule(
    request: HttpRequest, split_rule_id: uuid.UUID, payload: SplitRulePatchIn
) -> SplitRule:
    """Change a draft (a published version answers 409 `settlement.rule_published`)."""
    _staff(request, Permission.MANAGE_FINANCE)
    rule = selectors.get_rule(rule_id=split_rule_id)
    return services.update_draft(rule=rule, values=_values(payload, partial=True))


@console_router.delete("/split-rules/{split_rule_id}", response={204: None, ERROR_CODES: ErrorOut})
def delete_split_rule(request: HttpRequest, split_rule_id: uuid.UUID) -> Status[None]:
    """Drop a draft."""
    _staff(request, Permission.MANAGE_FINANCE)
    services.delete_draft(rule=selectors.get_rule(rule_id=split_rule_id))
    return Status(204, None)


@console_router.post(
    "/split-rules/{split_rule_id}/versions", response={201: SplitRuleOut, ERROR_CODES: ErrorOut}
)
def draft_split_rule_version(
    request: HttpRequest, split_rule_id: uuid.UUID, payload: SplitRulePatchIn
) -> Status[SplitRule]:
    """Draft the next version of a rule from this one, with the changes given."""
    actor = _staff(request, Permission.MANAGE_FINANCE)
    rule = selectors.get_rule(rule_id=split_rule_id)
    values = _values(payload, partial=True)
    return Status(201, services.draft_next_version(rule=rule, values=values, actor=actor))


@console_router.post(
    "/split-rules/{split_rule_id}/publish", response={200: SplitRuleOut, ERROR_CODES: ErrorOut}
)
def publish_split_rule(request: HttpRequest, split_rule_id: uuid.UUID) -> SplitRule:
    """Publish a draft: in force from its effective date, never edited again."""
    actor = _staff(request, Permission.MANAGE_FINANCE)
    return services.publish_rule(rule=selectors.get_rule(rule_id=split_rule_id), actor=actor)


@console_router.post("/split-preview", response={200: SplitPreviewOut, ERROR_CODES: ErrorOut})
def preview_split(request: HttpRequest, payload: SplitPreviewIn) -> SplitPreviewOut:
    """How a sale would split (published rules and contracts in force), and why, line by line."""
    _staff(request, Permission.VIEW_FINANCE)
    merchant = get_merchant(merchant_id=payload.merchant_id)
    day = payload.day or timezone.localdate()
    sale = clean_sale(
        external_id="preview",
        occurred_at=timezone.now(),
        total=payload.total,
        payments=[PaymentLine(p.method, p.amount) for p in payload.payments],
        items=[ItemLine(amount=i.amount, category=i.category) for i in payload.items],
    )
    lines = selectors.preview_split(
        merchant=merchant,
        total=sale.total,
        payments=[Portion(p.method, p.amount) for p in sale.payments],
        items=[Portion(i.category, i.amount) for i in sale.items],
        campaign=payload.campaign,
        day=day,
    )
    return SplitPreviewOut(
        total=sale.total, day=day, lines=[PlannedLineOut(**vars(line)) for line in lines]
    )


@merchant_router.get("/split-lines", response={200: list[SplitLineOut], ERROR_CODES: ErrorOut})
@paginate(CursorPagination, ordering=("-occurred_at", "-id"))
def list_split_lines(
    request: HttpRequest, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> object:
    """This merchant's split lines, newest first (dates are settle dates, both included)."""
    return selectors.list_merchant_lines(
        merchant=_own_merchant(request), since=date_from, until=date_to
    )


@merchant_router.get(
    "/sales/{external_id}/split-lines", response={200: list[SplitLineOut], ERROR_CODES: ErrorOut}
)
def get_sale_split_lines(request: HttpRequest, external_id: str) -> list[SplitLine]:
    """The lines of one of this merchant's sales and its refunds."""
    sale = get_merchant_sale(merchant=_own_merchant(request), external_id=external_id)
    return selectors.sale_lines(sale_id=sale.pk)
