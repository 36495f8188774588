"""The tenant console at `/console/`: sign in, accept an invitation, dashboard, staff and roles,
merchants and their POS keys, the loyalty program.

Views parse with forms, authorize with `staff_required` and `apps.accounts.permissions`, call one
service or selector, and render. A POST that creates a secret (an invitation link, an API key
secret) redirects, and the next page shows it once (`atrium.web.show_once`), so a reload never
creates a second one.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts import selectors as staff_selectors
from apps.accounts import services as staff_services
from apps.accounts.choices import MALL_ROLES, MERCHANT_ROLES, StaffRole
from apps.accounts.errors import InvitationInvalidError, WeakPasswordError
from apps.accounts.models import StaffUser
from apps.accounts.permissions import Permission, has_permission, require, require_can_assign
from apps.console.auth import (
    Surface,
    sign_in,
    sign_out,
    signed_in_staff,
    staff_required,
    surface_of,
)
from apps.console.directory import directory_context, format_choices
from apps.console.forms import (
    ApiKeyForm,
    InviteStaffForm,
    MerchantForm,
    RoleForm,
    SetPasswordForm,
    StaffLoginForm,
)
from apps.console.selectors import mall_counts
from apps.loyalty import selectors as loyalty_selectors
from apps.merchants import selectors as merchant_selectors
from apps.merchants import services as merchant_services
from apps.merchants.models import Merchant
from atrium.errors import DomainError, PermissionDeniedError
from atrium.request_utils import client_ip
from atrium.web import (
    error_details,
    render_refusal,
    safe_next_url,
    show_once,
    take_once,
    user_message,
)
from tenants.models import Tenant
from tenants.selectors import tenant_url

CONSOLE = Surface.CONSOLE


def current_tenant(request: HttpRequest) -> Tenant:
    """The tenant the middleware resolved from the host."""
    return cast(Tenant, request.tenant)  # type: ignore[attr-defined]  # set by tenant middleware


def _page(
    request: HttpRequest,
    staff: StaffUser,
    template: str,
    context: dict[str, Any],
    *,
    nav: str,
    status: int = 200,
) -> HttpResponse:
    """Render a console page with the chrome's context: tenant, account, visible sections."""
    base = {
        "tenant": current_tenant(request),
        "staff": staff,
        "nav": nav,
        "can_view_staff": has_permission(staff.role, Permission.VIEW_STAFF),
        "can_view_merchants": has_permission(staff.role, Permission.VIEW_MERCHANTS),
        "can_view_finance": has_permission(staff.role, Permission.VIEW_FINANCE),
        "can_view_members": has_permission(staff.role, Permission.VIEW_MEMBERS),
        "can_review": has_permission(staff.role, Permission.ADJUST_POINTS)
        or has_permission(staff.role, Permission.APPROVE_ADJUSTMENTS),
        "can_review_receipts": has_permission(staff.role, Permission.MANAGE_MEMBERS),
    }
    return render(request, template, {**base, **context}, status=status)


def _refused(request: HttpRequest, error: PermissionDeniedError) -> HttpResponse:
    return render_refusal(
        request, status=403, message=user_message(error), home_url=CONSOLE.home_url
    )


def _error_context(error: DomainError) -> dict[str, Any]:
    return {"error": user_message(error), "error_details": error_details(error)}


# --- signing in ----------------------------------------------------------------------------


def staff_login_page(request: HttpRequest, *, surface: Surface, template: str) -> HttpResponse:
    """The sign-in page of a staff surface: the console for mall staff, the merchant portal for
    merchant staff (the service refuses the wrong kind, inactive and throttled accounts)."""
    if request.method == "GET" and signed_in_staff(request, surface=surface) is not None:
        return redirect(surface.home_url)
    form = StaffLoginForm(request.POST or None)
    context: dict[str, Any] = {
        "form": form,
        "tenant": current_tenant(request),
        "next": safe_next_url(request, ""),
    }
    if request.method == "POST" and form.is_valid():
        try:
            staff = staff_services.authenticate_staff(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                ip=client_ip(request),
                merchant_portal=surface == Surface.MERCHANT,
            )
        except DomainError as exc:
            context.update(_error_context(exc))
        else:
            sign_in(request, staff=staff, surface=surface)
            return redirect(safe_next_url(request, surface.home_url))
    status = 400 if request.method == "POST" else 200
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """Mall staff sign in; merchant staff, inactive or throttled accounts are refused."""
    return staff_login_page(request, surface=CONSOLE, template="console/login.html")


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """End the console sign-in."""
    sign_out(request, surface=CONSOLE)
    return redirect(CONSOLE.login_url)


@require_http_methods(["GET", "POST"])
def invitation_view(request: HttpRequest, token: str) -> HttpResponse:
    """Set a password from an invitation link, then land signed in on the right surface."""
    invited = staff_selectors.get_invited_staff(token=token)
    form = SetPasswordForm(request.POST or None)
    context: dict[str, Any] = {
        "form": form,
        "tenant": current_tenant(request),
        "invited": invited,
    }
    if invited is None:
        context["error"] = user_message(InvitationInvalidError("invitation is invalid or expired"))
        return render(request, "console/invitation.html", context, status=404)
    if request.method == "POST" and form.is_valid():
        password = form.cleaned_data["password"]
        try:
            staff = staff_services.accept_invitation(token=token, password=password)
            staff = staff_services.authenticate_staff(
                username=staff.username,
                password=password,
                ip=client_ip(request),
                merchant_portal=staff.is_merchant_staff,
            )
        except WeakPasswordError as exc:
            form.add_error("password", user_message(exc))
            for reason in error_details(exc):
                form.add_error("password", reason)
        except DomainError as exc:
            context.update(_error_context(exc))
        else:
            surface = surface_of(staff)
            sign_in(request, staff=staff, surface=surface)
            messages.success(request, _("密码已设置，欢迎加入。"))
            return redirect(surface.home_url)
    status = 400 if request.method == "POST" else 200
    return render(request, "console/invitation.html", context, status=status)


# --- pages ---------------------------------------------------------------------------------


@staff_required(CONSOLE)
def home(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """The dashboard: the mall's size, the program in force, where to go next."""
    return _page(
        request,
        staff,
        "console/home.html",
        {
            "counts": mall_counts(),
            "tiers": list(loyalty_selectors.list_tiers()),
            "base_rule": loyalty_selectors.base_earning_rule(),
            "member_url": tenant_url(current_tenant(request), "/m/"),
            "merchant_url": tenant_url(current_tenant(request), "/merchant/"),
        },
        nav="home",
    )


def _role_choices(*, actor: StaffUser, merchant_roles: bool) -> list[tuple[str, str]]:
    allowed = MERCHANT_ROLES if merchant_roles else MALL_ROLES
    return [
        (value, str(label))
        for value, label in StaffRole.choices
        if value in allowed and (value != StaffRole.OWNER or actor.role == StaffRole.OWNER)
    ]


def _can_manage(actor: StaffUser, target: StaffUser) -> bool:
    if not has_permission(actor.role, Permission.MANAGE_STAFF):
        return False
    try:
        require_can_assign(actor.role, target.role)
    except PermissionDeniedError:
        return False
    return True


def _staff_page(
    request: HttpRequest,
    staff: StaffUser,
    *,
    form: InviteStaffForm,
    status: int = 200,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    rows = [
        {
            "account": account,
            "can_manage": account.is_active
            and account.pk != staff.pk
            and _can_manage(staff, account),
            "roles": _role_choices(actor=staff, merchant_roles=account.is_merchant_staff),
        }
        for account in staff_selectors.list_staff()
    ]
    context = {
        "rows": rows,
        "form": form,
        "invitation": take_once(request, "staff-invitation"),
        "invitation_days": settings.INVITATION_TTL_SECONDS // 86400,
        "can_manage_staff": has_permission(staff.role, Permission.MANAGE_STAFF),
        **(extra or {}),
    }
    return _page(request, staff, "console/staff.html", context, nav="staff", status=status)


def _invite_form(staff: StaffUser, data: Any = None) -> InviteStaffForm:
    roles = _role_choices(actor=staff, merchant_roles=False) + _role_choices(
        actor=staff, merchant_roles=True
    )
    merchants = [(str(m.pk), m.name) for m in merchant_selectors.list_merchants()]
    return InviteStaffForm(data, roles=roles, merchants=merchants)


@staff_required(CONSOLE, Permission.VIEW_STAFF)
@require_http_methods(["GET", "POST"])
def staff_list(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """Staff of the mall and its merchants; POST invites one (the next page shows the link once)."""
    if request.method == "GET":
        return _staff_page(request, staff, form=_invite_form(staff))
    form = _invite_form(staff, request.POST)
    if not form.is_valid():
        return _staff_page(request, staff, form=form, status=400)
    data = form.cleaned_data
    try:
        require(staff.role, Permission.MANAGE_STAFF)
        require_can_assign(staff.role, data["role"])
        merchant = (
            merchant_selectors.get_merchant(merchant_id=data["merchant"])
            if data["merchant"]
            else None
        )
        invitation = staff_services.invite_staff(
            username=data["username"],
            email=data["email"],
            display_name=data["display_name"],
            role=data["role"],
            merchant=merchant,
        )
    except PermissionDeniedError as exc:
        return _refused(request, exc)
    except DomainError as exc:
        return _staff_page(request, staff, form=form, status=400, extra=_error_context(exc))
    show_once(
        request,
        "staff-invitation",
        {
            "username": invitation.staff.username,
            "url": tenant_url(current_tenant(request), f"/console/invitation/{invitation.token}"),
        },
    )
    return redirect("console:staff")


def _managed_account(actor: StaffUser, staff_id: uuid.UUID) -> StaffUser:
    """The account an owner/admin may change. Raises PermissionDeniedError, StaffNotFoundError."""
    require(actor.role, Permission.MANAGE_STAFF)
    account = staff_selectors.get_staff(staff_id=staff_id)
    require_can_assign(actor.role, account.role)
    return account


@staff_required(CONSOLE, Permission.MANAGE_STAFF)
@require_POST
def staff_role(request: HttpRequest, staff: StaffUser, staff_id: uuid.UUID) -> HttpResponse:
    """Give an account another role (its API tokens end; its next page load sees the role)."""
    form = RoleForm(request.POST)
    try:
        account = _managed_account(staff, staff_id)
        if not form.is_valid():
            messages.error(request, _("请选择一个有效的角色。"))
            return redirect("console:staff")
        require_can_assign(staff.role, form.cleaned_data["role"])
        staff_services.update_staff(staff=account, role=form.cleaned_data["role"])
    except PermissionDeniedError as exc:
        return _refused(request, exc)
    except DomainError as exc:
        messages.error(request, user_message(exc))
    else:
        messages.success(
            request,
            _("%(name)s 的角色已改为「%(role)s」。")
            % {
                "name": account.display_name or account.username,
                "role": account.get_role_display(),
            },
        )
    return redirect("console:staff")


@staff_required(CONSOLE, Permission.MANAGE_STAFF)
@require_POST
def staff_deactivate(request: HttpRequest, staff: StaffUser, staff_id: uuid.UUID) -> HttpResponse:
    """Deactivate an account: it can no longer sign in, its sessions and tokens end."""
    try:
        account = _managed_account(staff, staff_id)
        staff_services.deactivate_staff(staff=account)
    except PermissionDeniedError as exc:
        return _refused(request, exc)
    except DomainError as exc:
        messages.error(request, user_message(exc))
    else:
        messages.success(
            request, _("已停用 %(name)s。") % {"name": account.display_name or account.username}
        )
    return redirect("console:staff")


@staff_required(CONSOLE, Permission.VIEW_MERCHANTS)
@require_http_methods(["GET", "POST"])
def merchant_list(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """The mall's merchants; POST adds one."""
    form = MerchantForm(request.POST or None)
    choices = format_choices()
    form.fields["business_format"].choices = choices  # type: ignore[attr-defined]
    context: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        try:
            require(staff.role, Permission.MANAGE_MERCHANTS)
        except PermissionDeniedError as exc:
            return _refused(request, exc)
        if form.is_valid():
            try:
                merchant = merchant_services.create_merchant(**form.cleaned_data, check_format=True)
            except DomainError as exc:
                context["error"] = user_message(exc)
            else:
                messages.success(request, _("已添加商户「%(name)s」。") % {"name": merchant.name})
                return redirect("console:merchant", merchant_id=merchant.pk)
        status = 400
    query = request.GET.get("q", "").strip()[:100]
    labels = dict(choices)
    merchants = [
        {
            "merchant": merchant,
            "format": labels.get(merchant.business_format, merchant.business_format),
        }
        for merchant in merchant_selectors.list_merchants(query=query)
    ]
    context.update(
        {
            "merchants": merchants,
            "query": query,
            "form": form,
            "can_manage_merchants": has_permission(staff.role, Permission.MANAGE_MERCHANTS),
            "can_view_finance": has_permission(staff.role, Permission.VIEW_FINANCE),
        }
    )
    return _page(request, staff, "console/merchants.html", context, nav="merchants", status=status)


def _merchant_page(
    request: HttpRequest,
    staff: StaffUser,
    merchant: Merchant,
    *,
    form: ApiKeyForm | None = None,
    status: int = 200,
) -> HttpResponse:
    can_manage_keys = has_permission(staff.role, Permission.MANAGE_API_KEYS)
    context = {
        "merchant": merchant,
        "format": dict(format_choices()).get(merchant.business_format, merchant.business_format),
        **directory_context(staff, merchant),
        "merchant_staff": list(staff_selectors.list_staff(merchant_id=merchant.pk)),
        "api_keys": list(merchant_selectors.list_api_keys(merchant=merchant))
        if can_manage_keys
        else [],
        "can_manage_keys": can_manage_keys,
        "key_form": form or ApiKeyForm(),
        "issued": take_once(request, f"api-key-{merchant.pk}"),
        "integration_url": tenant_url(current_tenant(request), "/api/integration/v1/"),
    }
    return _page(
        request, staff, "console/merchant_detail.html", context, nav="merchants", status=status
    )


def _show_secret_once(
    request: HttpRequest, merchant: Merchant, issued: merchant_services.IssuedApiKey
) -> None:
    show_once(
        request,
        f"api-key-{merchant.pk}",
        {"key_id": issued.api_key.key_id, "secret": issued.secret},
    )


@staff_required(CONSOLE, Permission.VIEW_MERCHANTS)
@require_http_methods(["GET", "POST"])
def merchant_detail(request: HttpRequest, staff: StaffUser, merchant_id: uuid.UUID) -> HttpResponse:
    """One merchant with its staff and POS keys; POST issues, rotates or revokes a key (a new
    secret is shown once, on the page the POST redirects to)."""
    try:
        merchant = merchant_selectors.get_merchant(merchant_id=merchant_id)
    except DomainError as exc:
        return render_refusal(
            request, status=404, message=user_message(exc), home_url=CONSOLE.home_url
        )
    if request.method == "GET":
        return _merchant_page(request, staff, merchant)
    action = request.POST.get("action", "")
    try:
        require(staff.role, Permission.MANAGE_API_KEYS)
        if action == "issue":
            form = ApiKeyForm(request.POST)
            if not form.is_valid():
                return _merchant_page(request, staff, merchant, form=form, status=400)
            issued = merchant_services.create_api_key(
                merchant=merchant, name=form.cleaned_data["name"]
            )
            _show_secret_once(request, merchant, issued)
            return redirect("console:merchant", merchant_id=merchant.pk)
        api_key = merchant_selectors.get_api_key(
            merchant=merchant, key_id=request.POST.get("key_id", "")
        )
        if action == "rotate":
            _show_secret_once(request, merchant, merchant_services.rotate_api_key(api_key=api_key))
            return redirect("console:merchant", merchant_id=merchant.pk)
        if action == "revoke":
            merchant_services.revoke_api_key(api_key=api_key)
            messages.success(request, _("密钥 %(key)s 已吊销。") % {"key": api_key.key_id})
    except PermissionDeniedError as exc:
        return _refused(request, exc)
    except DomainError as exc:
        messages.error(request, user_message(exc))
    return redirect("console:merchant", merchant_id=merchant.pk)


@staff_required(CONSOLE)
def program(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """The loyalty program seeded at onboarding: tiers and the base earning rule (read-only)."""
    return _page(
        request,
        staff,
        "console/program.html",
        {
            "tiers": list(loyalty_selectors.list_tiers()),
            "base_rule": loyalty_selectors.base_earning_rule(),
            "can_manage_program": has_permission(staff.role, Permission.MANAGE_PROGRAM),
        },
        nav="program",
    )
