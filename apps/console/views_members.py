"""The console's member pages: search, the 360° member view, point adjustments with
a second operator's approval, and the receipt review queue.

Phones and other identifiers show in clear only to roles with `members.pii`; everyone else sees
them masked (138****1234). Every write goes through the members, loyalty or sales services.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.models import StaffUser
from apps.accounts.permissions import Permission, has_permission, require
from apps.console.auth import Surface, staff_required
from apps.console.forms import (
    AdjustmentForm,
    MemberSearchForm,
    ReceiptDecisionForm,
)
from apps.console.selectors import (
    adjustment_queue,
    find_members,
    member_overview,
    member_rows,
    staff_names,
)
from apps.console.views import _page, _refused
from apps.loyalty.services.adjustments import decide_adjustment, request_adjustment
from apps.members import selectors as member_selectors
from apps.sales import selectors as sales_selectors
from apps.sales import services as sales_services
from apps.sales import storage
from apps.sales.choices import ReceiptStatus
from atrium.errors import DomainError, PermissionDeniedError
from atrium.web import render_refusal, user_message

CONSOLE = Surface.CONSOLE
MEMBERS_PER_PAGE = 25
LEDGER_PER_PAGE = 20
MEMBER_TABS = ("points", "growth", "sales", "receipts", "tiers", "consents")


def _not_found(request: HttpRequest, error: DomainError) -> HttpResponse:
    return render_refusal(
        request, status=404, message=user_message(error), home_url=CONSOLE.home_url
    )


@staff_required(CONSOLE, Permission.VIEW_MEMBERS)
@require_GET
def member_list(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """Members, newest first, or the ones a member number, phone or card number finds."""
    form = MemberSearchForm(request.GET or None)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    context: dict[str, Any] = {"form": form, "query": query}
    try:
        page = Paginator(find_members(query=query), MEMBERS_PER_PAGE).get_page(
            request.GET.get("page")
        )
    except DomainError as exc:
        context.update(error=user_message(exc), rows=[], page=None)
    else:
        clear = has_permission(staff.role, Permission.VIEW_MEMBER_PII)
        context.update(rows=member_rows(page.object_list, clear=clear), page=page)
    context["can_import"] = has_permission(staff.role, Permission.MANAGE_MEMBERS)
    return _page(request, staff, "console/members.html", context, nav="members")


@staff_required(CONSOLE, Permission.VIEW_MEMBERS)
@require_http_methods(["GET", "POST"])
def member_detail(request: HttpRequest, staff: StaffUser, member_id: uuid.UUID) -> HttpResponse:
    """The 360° view: profile, identities, consents, tier and history, points and growth
    ledgers, sales at every merchant, receipts, adjustments, merges. POST adjusts points."""
    can_adjust = has_permission(staff.role, Permission.ADJUST_POINTS)
    form = AdjustmentForm(request.POST if request.method == "POST" else None)
    status = 200
    error = None
    if request.method == "POST":
        try:
            require(staff.role, Permission.ADJUST_POINTS)
        except PermissionDeniedError as exc:
            return _refused(request, exc)
        if form.is_valid():
            try:
                made = request_adjustment(
                    member=member_selectors.get_member(member_id=member_id),
                    points=form.cleaned_data["points"],
                    reason=form.cleaned_data["reason"],
                    actor=str(staff.pk),
                )
            except DomainError as exc:
                error = user_message(exc)
            else:
                if made.status == "applied":
                    messages.success(request, _("积分已调整。"))
                else:
                    messages.warning(request, _("调整超过审批阈值，已提交，等待另一位运营审批。"))
                return redirect("console:member", member_id=member_id)
        status = 400
    try:
        overview = member_overview(
            member_id=member_id, clear=has_permission(staff.role, Permission.VIEW_MEMBER_PII)
        )
    except DomainError as exc:
        return _not_found(request, exc)
    tab = request.GET.get("tab", "points")
    tab = tab if tab in MEMBER_TABS else "points"
    ledgers = {
        "points": overview.entries,
        "growth": overview.growth_entries,
        "sales": overview.sales.prefetch_related("payments"),
    }
    page = (
        Paginator(ledgers[tab], LEDGER_PER_PAGE).get_page(request.GET.get("page"))
        if tab in ledgers
        else None
    )
    actors = [a.requested_by for a in overview.adjustments] + [
        a.decided_by for a in overview.adjustments
    ]
    context = {
        "o": overview,
        "tab": tab,
        "page": page,
        "form": form,
        "error": error,
        "can_adjust": can_adjust,
        "names": staff_names(actors),
    }
    return _page(
        request, staff, "console/member_detail.html", context, nav="members", status=status
    )


# --- approvals: adjustments and receipts ----------------------------------------------------


def _can_review(staff: StaffUser) -> bool:
    return has_permission(staff.role, Permission.ADJUST_POINTS) or has_permission(
        staff.role, Permission.APPROVE_ADJUSTMENTS
    )


@staff_required(CONSOLE)
@require_GET
def adjustments(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """Adjustments waiting for a second operator, and the latest decisions."""
    if not _can_review(staff):
        return _refused(request, PermissionDeniedError("your role does not allow this"))
    return _page(
        request,
        staff,
        "console/adjustments.html",
        {
            "queue": adjustment_queue(),
            "can_approve": has_permission(staff.role, Permission.APPROVE_ADJUSTMENTS),
            "staff_id": str(staff.pk),
        },
        nav="reviews",
    )


@staff_required(CONSOLE, Permission.APPROVE_ADJUSTMENTS)
@require_POST
def adjustment_decide(
    request: HttpRequest, staff: StaffUser, adjustment_id: uuid.UUID
) -> HttpResponse:
    """Approve (apply) or reject a pending adjustment; never the requester's own."""
    approve = request.POST.get("decision") == "approve"
    try:
        decide_adjustment(request_id=str(adjustment_id), approve=approve, actor=str(staff.pk))
    except DomainError as exc:
        messages.error(request, user_message(exc))
    else:
        messages.success(request, _("已批准，积分已调整。") if approve else _("已驳回该调整。"))
    return redirect("console:adjustments")


@staff_required(CONSOLE, Permission.MANAGE_MEMBERS)
@require_GET
def receipts(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """Receipts members uploaded: the pending queue first, then the latest reviewed."""
    status = request.GET.get("status", ReceiptStatus.PENDING)
    status = status if status in ReceiptStatus.values else ReceiptStatus.PENDING
    page = Paginator(sales_selectors.list_receipts(status=status), 20).get_page(
        request.GET.get("page")
    )
    return _page(
        request,
        staff,
        "console/receipts.html",
        {
            "page": page,
            "status": status,
            "statuses": ReceiptStatus.choices,
            "form": ReceiptDecisionForm(),
        },
        nav="reviews",
    )


@staff_required(CONSOLE, Permission.MANAGE_MEMBERS)
@require_GET
def receipt_photo(request: HttpRequest, staff: StaffUser, receipt_id: uuid.UUID) -> HttpResponse:
    """A receipt's photo, from this mall's private folder only."""
    try:
        receipt = sales_selectors.get_receipt(receipt_id=receipt_id)
        path = storage.photo_path(receipt.photo_path)
    except DomainError as exc:
        return _not_found(request, exc)
    if not path.exists():
        return _not_found(request, DomainError("photo missing"))
    # At most 10 MB (the upload limit): read whole, so the decorator's HttpResponse type holds.
    response = HttpResponse(path.read_bytes(), content_type=receipt.photo_content_type)
    response["Cache-Control"] = "private, no-store"
    return response


@staff_required(CONSOLE, Permission.MANAGE_MEMBERS)
@require_POST
def receipt_decide(request: HttpRequest, staff: StaffUser, receipt_id: uuid.UUID) -> HttpResponse:
    """Approve a receipt (its sale is recorded for the member, once) or reject it with a reason."""
    form = ReceiptDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请检查金额和原因。"))
        return redirect("console:receipts")
    data = form.cleaned_data
    actor = f"staff:{staff.pk}"
    try:
        if request.POST.get("decision") == "approve":
            sales_services.approve_receipt(
                receipt_id=str(receipt_id),
                actor=actor,
                amount=str(data["amount"]) if data["amount"] else None,
                payment_method=data["method"],
            )
            messages.success(request, _("已通过，消费已记录并积分。"))
        else:
            sales_services.reject_receipt(
                receipt_id=str(receipt_id), actor=actor, reason=data["reason"]
            )
            messages.success(request, _("已驳回，会员会看到驳回原因。"))
    except DomainError as exc:
        messages.error(request, user_message(exc))
    return redirect("console:receipts")
