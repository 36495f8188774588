"""Console pages of the merchants directory (edit, contracts) and the split-rule editor with its
preview. They parse forms and call the merchants and settlement services, nothing more."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts.models import StaffUser
from apps.accounts.permissions import Permission, has_permission, require
from apps.console.auth import staff_required
from apps.console.directory import format_choices
from apps.console.forms import ContractForm, MerchantEditForm, SplitPreviewForm, SplitRuleForm
from apps.console.views import CONSOLE, _page, _refused
from apps.merchants import selectors as merchant_selectors
from apps.merchants import services as merchant_services
from apps.merchants.models import Merchant
from apps.settlement import split_selectors
from apps.settlement.choices import LineKind, Party
from apps.settlement.services import rules as rule_services
from apps.settlement.splitting import Portion
from atrium.errors import DomainError, PermissionDeniedError
from atrium.web import render_refusal, user_message


def _merchant(request: HttpRequest, merchant_id: uuid.UUID) -> Merchant | HttpResponse:
    try:
        return merchant_selectors.get_merchant(merchant_id=merchant_id)
    except DomainError as exc:
        return render_refusal(
            request, status=404, message=user_message(exc), home_url=CONSOLE.home_url
        )


@staff_required(CONSOLE, Permission.VIEW_MERCHANTS)
@require_POST
def merchant_edit(request: HttpRequest, staff: StaffUser, merchant_id: uuid.UUID) -> HttpResponse:
    """Save a merchant's directory fields (a blank phone field keeps the phone when masked)."""
    found = _merchant(request, merchant_id)
    if isinstance(found, HttpResponse):
        return found
    form = MerchantEditForm(request.POST, prefix="edit")
    form.fields["business_format"].choices = format_choices()  # type: ignore[attr-defined]
    try:
        require(staff.role, Permission.MANAGE_MERCHANTS)
        if not form.is_valid():
            messages.error(request, _("请检查填写的内容。"))
        else:
            changes = {k: str(v) for k, v in form.cleaned_data.items()}
            if not changes["contact_phone"] and not has_permission(
                staff.role, Permission.VIEW_MEMBER_PII
            ):
                changes.pop("contact_phone")
            merchant_services.update_merchant(merchant=found, changes=changes)
            messages.success(request, _("商户资料已保存。"))
    except PermissionDeniedError as exc:
        return _refused(request, exc)
    except DomainError as exc:
        messages.error(request, user_message(exc))
    return redirect("console:merchant", merchant_id=found.pk)


@staff_required(CONSOLE, Permission.VIEW_MERCHANTS)
@require_POST
def merchant_contract(
    request: HttpRequest, staff: StaffUser, merchant_id: uuid.UUID
) -> HttpResponse:
    """Add a contract version to a merchant."""
    found = _merchant(request, merchant_id)
    if isinstance(found, HttpResponse):
        return found
    form = ContractForm(request.POST)
    try:
        require(staff.role, Permission.MANAGE_MERCHANTS)
        if not form.is_valid():
            messages.error(request, _("请检查填写的内容。"))
        else:
            merchant_services.create_contract(
                merchant=found, **form.cleaned_data, actor=f"staff:{staff.pk}"
            )
            messages.success(request, _("合同已生效登记。"))
    except PermissionDeniedError as exc:
        return _refused(request, exc)
    except DomainError as exc:
        messages.error(request, user_message(exc))
    return redirect("console:merchant", merchant_id=found.pk)


def _preview_form(data: Any = None) -> SplitPreviewForm:
    form = SplitPreviewForm(data)
    form.fields["merchant"].choices = [  # type: ignore[attr-defined]
        (str(m.pk), m.name) for m in merchant_selectors.list_merchants()
    ]
    return form


@staff_required(CONSOLE, Permission.VIEW_FINANCE)
@require_http_methods(["GET", "POST"])
def split_rules(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """Every split rule version; POST `create` drafts a rule, `publish` publishes a draft,
    `preview` shows how a sample sale would split and why."""
    can_manage = has_permission(staff.role, Permission.MANAGE_FINANCE)
    form = SplitRuleForm(initial={"effective_from": timezone.localdate(), "priority": 0})
    preview_form = _preview_form()
    preview: list[Any] | None = None
    status = 200
    action = request.POST.get("action", "") if request.method == "POST" else ""
    try:
        if action in ("create", "publish"):
            require(staff.role, Permission.MANAGE_FINANCE)
        if action == "create":
            form = SplitRuleForm(request.POST)
            if form.is_valid():
                rule_services.create_rule(values=form.cleaned_data, actor=f"staff:{staff.pk}")
                messages.success(request, _("规则草稿已保存，发布后生效。"))
                return redirect("console:split-rules")
            status = 400
        elif action == "publish":
            rule = split_selectors.get_rule(rule_id=request.POST.get("rule_id", ""))
            rule_services.publish_rule(rule=rule, actor=f"staff:{staff.pk}")
            messages.success(request, _("规则已发布。"))
            return redirect("console:split-rules")
        elif action == "preview":
            preview_form = _preview_form(request.POST)
            if preview_form.is_valid():
                data = preview_form.cleaned_data
                total = data["total"]
                planned = split_selectors.preview_split(
                    merchant=merchant_selectors.get_merchant(merchant_id=data["merchant"]),
                    total=total,
                    payments=[Portion(data["payment_method"], total)],
                    items=[Portion(data["category"], total)] if data["category"] else [],
                    campaign=data["campaign"],
                    day=timezone.localdate(),
                )
                preview = [
                    {
                        "party": Party(line.party).label,
                        "kind": LineKind(line.kind).label,
                        "amount": line.amount,
                        "why": line.why,
                    }
                    for line in planned
                ]
            else:
                status = 400
    except PermissionDeniedError as exc:
        return _refused(request, exc)
    except DomainError as exc:
        messages.error(request, user_message(exc))
        status = 400
    context = {
        "rules": list(split_selectors.list_rules()[:500]),
        "form": form,
        "preview_form": preview_form,
        "preview": preview,
        "can_manage": can_manage,
    }
    return _page(
        request, staff, "console/split_rules.html", context, nav="merchants", status=status
    )
