"""The console's program editors: tiers, and earning rules with versions, a preview of a sample
sale ("what would it earn, and why"), a backtest over the last days of sales, and publishing.

Published rules never change: an edit is a new version from a date (`create_rule_draft` with
`supersedes`), so every past sale stays explainable by the rules of its day.
"""

from __future__ import annotations

import datetime as dt
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
from apps.console.auth import Surface, staff_required
from apps.console.forms import (
    BUSINESS_FORMATS,
    BacktestForm,
    PreviewForm,
    RuleForm,
    RuleVersionForm,
    TierForm,
    business_format_label,
)
from apps.console.selectors import list_rule_versions
from apps.console.views import _page, _refused
from apps.loyalty import selectors as loyalty_selectors
from apps.loyalty.choices import RuleStatus
from apps.loyalty.models import EarningRule, Tier
from apps.loyalty.selectors import get_rule
from apps.loyalty.services import program as program_services
from apps.merchants import selectors as merchant_selectors
from apps.sales import services as sales_services
from atrium.errors import DomainError, PermissionDeniedError
from atrium.web import render_refusal, user_message

CONSOLE = Surface.CONSOLE


def _merchant_choices() -> list[tuple[str, str]]:
    return [(str(m.pk), m.name) for m in merchant_selectors.list_merchants()]


def _format_choices() -> list[tuple[str, str]]:
    return [(value, str(label)) for value, label in BUSINESS_FORMATS]


# --- tiers ----------------------------------------------------------------------------------


def _tier_initial(tier: Tier) -> dict[str, Any]:
    return {
        "code": tier.code,
        "name": tier.name,
        "rank": tier.rank,
        "growth_threshold": tier.growth_threshold,
        "retention_growth": tier.retention_growth,
        "points_multiplier": tier.points_multiplier,
        "free_parking_hours": tier.free_parking_hours,
        "discount_percent": tier.discount_percent,
        "birthday_gift": tier.birthday_gift,
        "perks": "\n".join(tier.perks),
    }


@staff_required(CONSOLE, Permission.MANAGE_PROGRAM)
@require_http_methods(["GET", "POST"])
def tier_edit(request: HttpRequest, staff: StaffUser, code: str | None = None) -> HttpResponse:
    """Create or change a tier: name, order, thresholds, multiplier and benefits."""
    tier = loyalty_selectors.list_tiers().filter(code=code).first() if code else None
    if code and tier is None:
        return render_refusal(
            request, status=404, message=_("没有找到该等级。"), home_url=CONSOLE.home_url
        )
    form = TierForm(request.POST or None, initial=_tier_initial(tier) if tier else None)
    if tier is not None:
        form.fields["code"].disabled = True  # the code names the tier in history and events
    context: dict[str, Any] = {"form": form, "tier": tier}
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                saved = program_services.save_tier(code=data.pop("code"), **data)
            except DomainError as exc:
                context["error"] = user_message(exc)
            else:
                messages.success(request, _("等级「%(name)s」已保存。") % {"name": saved.name})
                return redirect("console:program")
    return _page(request, staff, "console/tier_form.html", context, nav="program", status=status)


# --- earning rules --------------------------------------------------------------------------


def _rule_form(data: Any = None) -> RuleForm:
    return RuleForm(data, merchants=_merchant_choices(), formats=_format_choices())


@staff_required(CONSOLE, Permission.VIEW_MEMBERS)
@require_http_methods(["GET", "POST"])
def rules(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """Every earning rule and its versions; POST saves a new rule as a draft."""
    can_manage = has_permission(staff.role, Permission.MANAGE_PROGRAM)
    form = _rule_form(request.POST if request.method == "POST" else None)
    context: dict[str, Any] = {"form": form, "can_manage": can_manage}
    status = 200
    if request.method == "POST":
        try:
            require(staff.role, Permission.MANAGE_PROGRAM)
        except PermissionDeniedError as exc:
            return _refused(request, exc)
        status = 400
        if form.is_valid():
            try:
                draft = program_services.create_rule_draft(
                    actor=str(staff.pk), **form.rule_fields()
                )
            except DomainError as exc:
                context["error"] = user_message(exc)
            else:
                messages.success(request, _("草稿已保存：先预览、回测，再发布。"))
                return redirect("console:rule", rule_id=draft.pk)
    merchants = dict(_merchant_choices())
    context["versions"] = [
        {"version": version, "scope": _scope(version.rule, merchants)}
        for version in list_rule_versions()
    ]
    return _page(request, staff, "console/rules.html", context, nav="program", status=status)


def _scope(rule: EarningRule, merchants: dict[str, str]) -> str:
    parts = []
    if rule.merchant_id:
        parts.append(merchants.get(str(rule.merchant_id), str(rule.merchant_id)))
    if rule.business_format:
        parts.append(business_format_label(rule.business_format))
    if rule.category:
        parts.append(rule.category)
    return " · ".join(parts) or _("全场")


def _preview_form(data: Any = None) -> PreviewForm:
    tiers = [(t.code, t.name) for t in loyalty_selectors.list_tiers()]
    return PreviewForm(
        data,
        merchants=_merchant_choices(),
        tiers=tiers,
        initial={"occurred_on": timezone.localdate()},
    )


@staff_required(CONSOLE, Permission.VIEW_MEMBERS)
@require_http_methods(["GET", "POST"])
def rule_detail(request: HttpRequest, staff: StaffUser, rule_id: uuid.UUID) -> HttpResponse:
    """One rule: its fields and versions; preview a sample sale with it, backtest it over the
    last days of sales, publish a draft, or start a new version of a published rule."""
    try:
        rule = get_rule(rule_id=rule_id)
    except DomainError as exc:
        return render_refusal(
            request, status=404, message=user_message(exc), home_url=CONSOLE.home_url
        )
    action = request.POST.get("action", "")
    can_manage = has_permission(staff.role, Permission.MANAGE_PROGRAM)
    if action in {"backtest", "publish", "version"} and not can_manage:
        return _refused(request, PermissionDeniedError("your role does not allow this"))
    preview_form = _preview_form(request.POST if action == "preview" else None)
    backtest_form = BacktestForm(request.POST if action == "backtest" else None)
    version_form = RuleVersionForm(
        request.POST if action == "version" else None,
        initial={"effective_from": timezone.localdate() + dt.timedelta(days=1)},
    )
    context: dict[str, Any] = {
        "rule": rule,
        "scope": _scope(rule, dict(_merchant_choices())),
        "preview_form": preview_form,
        "backtest_form": backtest_form,
        "version_form": version_form,
        "can_manage": can_manage,
        "is_draft": rule.status == RuleStatus.DRAFT,
    }
    status = 200
    try:
        if action == "preview":
            status = 400
            if preview_form.is_valid():
                context["quote"] = _preview(rule, preview_form.cleaned_data)
                status = 200
        elif action == "backtest":
            status = 400
            if backtest_form.is_valid():
                context["backtest"] = sales_services.backtest_rules(
                    added_rules=[rule], days=backtest_form.cleaned_data["days"]
                )
                status = 200
        elif action == "publish":
            program_services.publish_rule(rule=rule)
            messages.success(request, _("规则已发布，自生效日期起计算积分。"))
            return redirect("console:rule", rule_id=rule.pk)
        elif action == "version":
            status = 400
            if version_form.is_valid():
                draft = program_services.create_rule_draft(
                    actor=str(staff.pk), supersedes=rule, **version_form.changes()
                )
                messages.success(request, _("新版本草稿已保存。"))
                return redirect("console:rule", rule_id=draft.pk)
    except DomainError as exc:
        context["error"] = user_message(exc)
        status = 400
    return _page(request, staff, "console/rule_detail.html", context, nav="program", status=status)


def _preview(rule: EarningRule, data: dict[str, Any]) -> Any:
    """The sample sale's quote with this rule added (a draft) or as it is (published)."""
    total = str(data["total"])
    occurred_at = timezone.make_aware(dt.datetime.combine(data["occurred_on"], dt.time(12)))
    items = [sales_services.ItemLine(amount=total, category=data["category"])]
    return sales_services.preview_sale(
        merchant=merchant_selectors.get_merchant(merchant_id=data["merchant"]),
        occurred_at=min(occurred_at, timezone.now()),
        total=total,
        payments=[sales_services.PaymentLine(method=data["method"], amount=total)],
        items=items,
        tier_code=data["tier"] or None,
        added_rules=[rule] if rule.status == RuleStatus.DRAFT else [],
    )


@staff_required(CONSOLE, Permission.MANAGE_PROGRAM)
@require_POST
def rule_publish(request: HttpRequest, staff: StaffUser, rule_id: uuid.UUID) -> HttpResponse:
    """Publish a draft from the rule list."""
    try:
        program_services.publish_rule(rule=get_rule(rule_id=rule_id))
    except DomainError as exc:
        messages.error(request, user_message(exc))
    else:
        messages.success(request, _("规则已发布，自生效日期起计算积分。"))
    return redirect("console:rules")
