"""The merchant portal's statements: the merchant's own issued statements, confirm or dispute,
and downloads. The merchant comes from the signed-in account, never from the request: another
merchant's statement id is "not found"."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.models import StaffUser
from apps.accounts.permissions import Permission, has_permission
from apps.console.auth import Surface, staff_required
from apps.console.views import current_tenant
from apps.settlement import rendering, statement_selectors
from apps.settlement.services import statements as services
from apps.settlement.statement_api import export_response
from atrium.errors import DomainError
from atrium.web import render_refusal, user_message

MERCHANT = Surface.MERCHANT


def _not_found(request: HttpRequest, error: DomainError) -> HttpResponse:
    return render_refusal(
        request, status=404, message=user_message(error), home_url=MERCHANT.home_url
    )


@staff_required(MERCHANT)
@require_GET
def statements(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """The merchant's issued statements, newest first."""
    assert staff.merchant is not None  # noqa: S101 - merchant staff only
    return render(
        request,
        "merchant/statements.html",
        {
            "tenant": current_tenant(request),
            "merchant": staff.merchant,
            "statements": statement_selectors.list_merchant_statements(merchant=staff.merchant)[
                :60
            ],
        },
    )


@staff_required(MERCHANT)
@require_GET
def statement(request: HttpRequest, staff: StaffUser, statement_id: uuid.UUID) -> HttpResponse:
    """One statement: lines, totals, and (for a manager) confirm or dispute."""
    assert staff.merchant is not None  # noqa: S101 - merchant staff only
    try:
        found = statement_selectors.get_merchant_statement(
            merchant=staff.merchant, statement_id=statement_id
        )
    except DomainError as exc:
        return _not_found(request, exc)
    return render(
        request,
        "merchant/statement.html",
        {
            "tenant": current_tenant(request),
            "merchant": staff.merchant,
            "statement": found,
            "lines": [(line, rendering.line_label(line)) for line in found.lines.all()],
            "summary": rendering.summary_rows(found),
            "can_answer": has_permission(staff.role, Permission.MERCHANT_MANAGE),
        },
    )


@staff_required(MERCHANT, Permission.MERCHANT_MANAGE)
@require_POST
def statement_answer(
    request: HttpRequest, staff: StaffUser, statement_id: uuid.UUID
) -> HttpResponse:
    """Confirm the statement, or dispute it with a reason."""
    assert staff.merchant is not None  # noqa: S101 - merchant staff only
    actor = f"staff:{staff.pk}"
    try:
        if request.POST.get("action") == "dispute":
            services.dispute_statement(
                merchant=staff.merchant, statement_id=statement_id,
                reason=request.POST.get("reason", ""), actor=actor,
            )  # fmt: skip
            messages.success(request, _("已提交异议，商场财务会处理。"))
        else:
            services.confirm_statement(
                merchant=staff.merchant, statement_id=statement_id, actor=actor
            )
            messages.success(request, _("已确认结算单。"))
    except DomainError as exc:
        if exc.http_status == 404:
            return _not_found(request, exc)
        messages.error(request, user_message(exc))
    return redirect("merchant:statement", statement_id=statement_id)


@staff_required(MERCHANT)
@require_GET
def statement_export(
    request: HttpRequest, staff: StaffUser, statement_id: uuid.UUID, fmt: str
) -> HttpResponse:
    """The merchant's own statement as CSV, XLSX or PDF."""
    assert staff.merchant is not None  # noqa: S101 - merchant staff only
    try:
        found = statement_selectors.get_merchant_statement(
            merchant=staff.merchant, statement_id=statement_id
        )
    except DomainError as exc:
        return _not_found(request, exc)
    if fmt not in rendering.EXPORTS:
        return _not_found(request, DomainError("unknown format"))
    return export_response(found, fmt)
