"""The console's settlement desk: periods and their statements by state, closing due periods,
issuing drafts, disputes to resolve, payouts (Alipay rail or bank file) and downloads.

Every write goes through `apps.settlement.services`; every read through its selectors.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.models import StaffUser
from apps.accounts.permissions import Permission, has_permission
from apps.console.auth import Surface, staff_required
from apps.console.views import _page
from apps.console.views_members import _not_found
from apps.settlement import rendering, statement_selectors
from apps.settlement.services import payouts
from apps.settlement.services import statements as services
from apps.settlement.statement_api import export_response
from apps.settlement.statement_choices import PayoutRoute, StatementStatus
from apps.settlement.tasks import tenant_today
from atrium.errors import DomainError
from atrium.web import user_message

CONSOLE = Surface.CONSOLE
PER_PAGE = 50


def _actor(staff: StaffUser) -> str:
    return f"staff:{staff.pk}"


@staff_required(CONSOLE, Permission.VIEW_FINANCE)
@require_GET
def settlement(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """Statements by state (drafts first to issue), with the counts and net of each state."""
    status = request.GET.get("status", StatementStatus.DRAFT)
    status = status if status in StatementStatus.values else StatementStatus.DRAFT
    counts = statement_selectors.dashboard_counts()
    page = Paginator(statement_selectors.list_statements(status=status), PER_PAGE).get_page(
        request.GET.get("page")
    )
    return _page(
        request,
        staff,
        "console/settlement.html",
        {
            "status": status,
            "statuses": [
                (
                    value,
                    label,
                    counts.get(value, {}).get("count", 0),
                    counts.get(value, {}).get("net"),
                )
                for value, label in StatementStatus.choices
            ],
            "page": page,
            "today": tenant_today(),
            "can_manage": has_permission(staff.role, Permission.MANAGE_FINANCE),
        },
        nav="settlement",
    )


@staff_required(CONSOLE, Permission.MANAGE_FINANCE)
@require_POST
def settlement_close(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """Close every period that ended before the mall's today (what the hourly job does)."""
    closed = services.close_due_periods(today=tenant_today(), actor=_actor(staff))
    messages.success(
        request, _("已结账 %(count)d 个周期，生成结算单草稿。") % {"count": len(closed)}
    )
    return redirect("console:settlement")


@staff_required(CONSOLE, Permission.MANAGE_FINANCE)
@require_POST
def settlement_issue(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """Issue the ticked drafts to their merchants."""
    try:
        ids = [uuid.UUID(value) for value in request.POST.getlist("statement")]
    except ValueError:
        ids = []
    if not ids:
        messages.error(request, _("请先勾选要出账的结算单。"))
        return redirect("console:settlement")
    try:
        issued = services.issue_statements(statement_ids=ids, actor=_actor(staff))
    except DomainError as exc:
        messages.error(request, user_message(exc))
    else:
        messages.success(request, _("已出账 %(count)d 张结算单。") % {"count": len(issued)})
    return redirect(f"{request.path.rsplit('issue/', 1)[0]}?status=issued")


@staff_required(CONSOLE, Permission.MANAGE_FINANCE)
@require_POST
def settlement_bank_file(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """The bank batch file of every confirmed statement paid by bank transfer."""
    ready = [
        s
        for s in statement_selectors.list_statements(status=StatementStatus.CONFIRMED)
        if s.payout_route == PayoutRoute.BANK and s.net_payable > 0
    ]
    if not ready:
        messages.error(request, _("没有待银行付款的已确认结算单。"))
        return redirect("console:settlement")
    response = HttpResponse(
        payouts.bank_transfer_file(statements=ready), content_type="text/csv; charset=gbk"
    )
    response["Content-Disposition"] = f'attachment; filename="bank-transfers-{tenant_today()}.csv"'
    return response


@staff_required(CONSOLE, Permission.VIEW_FINANCE)
@require_GET
def statement_detail(
    request: HttpRequest, staff: StaffUser, statement_id: uuid.UUID
) -> HttpResponse:
    """One statement: its lines, totals, state history and the finance actions it allows."""
    try:
        statement = statement_selectors.get_statement(statement_id=statement_id)
    except DomainError as exc:
        return _not_found(request, exc)
    return _page(
        request,
        staff,
        "console/statement.html",
        {
            "statement": statement,
            "lines": [(line, rendering.line_label(line)) for line in statement.lines.all()],
            "summary": rendering.summary_rows(statement),
            "can_manage": has_permission(staff.role, Permission.MANAGE_FINANCE),
        },
        nav="settlement",
    )


@staff_required(CONSOLE, Permission.MANAGE_FINANCE)
@require_POST
def statement_action(
    request: HttpRequest, staff: StaffUser, statement_id: uuid.UUID
) -> HttpResponse:
    """Issue, resolve a dispute, record a bank payout or pay through Alipay."""
    action = request.POST.get("action", "")
    actor = _actor(staff)
    try:
        if action == "issue":
            services.issue_statements(statement_ids=[statement_id], actor=actor)
            messages.success(request, _("已出账，商户可在商户端查看并确认。"))
        elif action == "resolve":
            services.resolve_dispute(
                statement_id=statement_id,
                resolution=request.POST.get("resolution", ""),
                actor=actor,
            )
            messages.success(request, _("异议已处理，结算单视为已确认。"))
        elif action == "payout":
            services.record_payout(
                statement_id=statement_id, reference=request.POST.get("reference", ""),
                actor=actor, route=PayoutRoute.BANK,
            )  # fmt: skip
            messages.success(request, _("已登记付款。"))
        elif action == "alipay":
            payouts.pay_via_alipay(statement_id=statement_id, actor=actor)
            messages.success(request, _("已通过支付宝分账付款。"))
        else:
            messages.error(request, _("未知操作。"))
    except DomainError as exc:
        messages.error(request, user_message(exc))
    return redirect("console:statement", statement_id=statement_id)


@staff_required(CONSOLE, Permission.VIEW_FINANCE)
@require_GET
def statement_export(
    request: HttpRequest, staff: StaffUser, statement_id: uuid.UUID, fmt: str
) -> HttpResponse:
    """The statement as CSV, XLSX or PDF."""
    try:
        statement = statement_selectors.get_statement(statement_id=statement_id)
    except DomainError as exc:
        return _not_found(request, exc)
    if fmt not in rendering.EXPORTS:
        return _not_found(request, DomainError("unknown format"))
    return export_response(statement, fmt)
