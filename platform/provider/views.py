"""The provider console on the bare domain: sign in, tenants, onboarding, lifecycle, exports, usage.

Provider admins are Django users with `is_staff`, signed in with Django's session auth. Views parse
with forms, authorize with `provider_admin_required`, call `tenants.services` / selectors, render.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Concatenate, ParamSpec, cast
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.models import User
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from atrium.errors import DomainError
from atrium.logging import actor_var
from atrium.request_utils import client_ip
from atrium.web import render_refusal, safe_next_url, show_once, take_once, user_message
from provider import selectors as provider_selectors
from provider.forms import BrandingForm, LoginForm, OnboardingForm
from provider.services import authenticate_provider_admin
from tenants import selectors, services
from tenants.choices import TenantStatus
from tenants.errors import ExportNotFoundError, SlugInvalidError, SlugTakenError
from tenants.models import Tenant

P = ParamSpec("P")
View = Callable[Concatenate[HttpRequest, P], HttpResponseBase]

_STATUS_CHANGES: dict[str, Callable[..., Tenant]] = {
    "suspend": services.suspend_tenant,
    "resume": services.resume_tenant,
    "archive": services.archive_tenant,
}


def _is_provider_admin(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_authenticated and user.is_active and getattr(user, "is_staff", False))


def provider_admin_required(view: View[P]) -> View[P]:
    """Anonymous: to the sign-in page. Signed in but not a provider admin: 403."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated:
            login_url = reverse("provider:login")
            return redirect(f"{login_url}?next={quote(request.get_full_path())}")
        if not _is_provider_admin(request):
            return render_refusal(
                request, status=403, message=_("只有平台管理员可以使用平台控制台。")
            )
        actor_var.set(f"provider:{user.pk}")
        return view(request, *args, **kwargs)

    return wrapper


def _tenant_or_404(request: HttpRequest, tenant_id: int) -> Tenant | HttpResponse:
    try:
        return selectors.get_tenant(tenant_id=tenant_id)
    except DomainError as exc:
        return render_refusal(request, status=404, message=user_message(exc))


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """Sign a provider admin in (throttled, like the API's login)."""
    home = reverse("provider:tenants")
    if request.method == "GET" and _is_provider_admin(request):
        return redirect(home)
    form = LoginForm(request.POST or None)
    context: dict[str, object] = {"form": form, "next": safe_next_url(request, "")}
    if request.method == "POST" and form.is_valid():
        try:
            user = authenticate_provider_admin(
                request=request,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                ip=client_ip(request),
            )
        except DomainError as exc:
            context["error"] = user_message(exc)
        else:
            auth_login(request, cast(User, user))  # rotates the session key
            return redirect(safe_next_url(request, home))
    status = 400 if request.method == "POST" else 200
    return render(request, "provider/login.html", context, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """End the provider admin's session."""
    auth_logout(request)
    return redirect("provider:login")


@provider_admin_required
def tenant_list(request: HttpRequest) -> HttpResponse:
    """Every tenant, newest first, optionally of one status."""
    status = request.GET.get("status") or None
    if status not in {None, *TenantStatus.values}:
        status = None
    tenants = [
        {"tenant": tenant, "console_url": selectors.tenant_url(tenant, "/console/")}
        for tenant in selectors.list_tenants(status=status)
    ]
    return render(
        request,
        "provider/tenant_list.html",
        {"tenants": tenants, "status": status, "statuses": TenantStatus.choices, "nav": "tenants"},
    )


@provider_admin_required
@require_http_methods(["GET", "POST"])
def tenant_onboard(request: HttpRequest) -> HttpResponse:
    """Onboard a mall in one step; its page then shows the owner's invitation link, once."""
    form = OnboardingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = services.onboard_tenant(
                name=data["name"],
                slug=data["slug"],
                kind=data["kind"],
                display_name=data["display_name"],
                primary_color=data["primary_color"],
                operator_username=data["operator_username"],
                operator_email=data["operator_email"],
            )
        except (SlugInvalidError, SlugTakenError) as exc:
            form.add_error("slug", user_message(exc))
        except DomainError as exc:
            form.add_error(None, user_message(exc))
        else:
            tenant = result.tenant
            show_once(
                request,
                f"invitation-{tenant.pk}",
                {"url": result.invitation_url, "username": result.operator_username},
            )
            messages.success(request, _("「%(name)s」已入驻。") % {"name": tenant.name})
            return redirect("provider:tenant", tenant_id=tenant.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "provider/tenant_onboard.html", {"form": form, "nav": "onboard"}, status=status
    )


def _detail(
    request: HttpRequest, tenant: Tenant, *, branding: BrandingForm | None = None, status: int = 200
) -> HttpResponse:
    form = branding or BrandingForm(
        initial={
            "display_name": tenant.display_name,
            "logo_url": tenant.logo_url,
            "primary_color": tenant.primary_color,
        }
    )
    return render(
        request,
        "provider/tenant_detail.html",
        {
            "tenant": tenant,
            "usage": provider_selectors.tenant_usage(tenant=tenant),
            "exports": list(tenant.exports.all()),
            "branding_form": form,
            "console_url": selectors.tenant_url(tenant, "/console/"),
            "merchant_url": selectors.tenant_url(tenant, "/merchant/"),
            "member_url": selectors.tenant_url(tenant, "/m/"),
            "can_suspend": tenant.status == TenantStatus.ACTIVE,
            "can_resume": tenant.status != TenantStatus.ACTIVE,
            "can_archive": tenant.status != TenantStatus.ARCHIVED,
            "invitation": take_once(request, f"invitation-{tenant.pk}"),
            "invitation_days": settings.INVITATION_TTL_SECONDS // 86400,
            "nav": "tenants",
        },
        status=status,
    )


@provider_admin_required
def tenant_detail(request: HttpRequest, tenant_id: int) -> HttpResponse:
    """One tenant: status, usage, branding, exports and lifecycle buttons."""
    tenant = _tenant_or_404(request, tenant_id)
    if isinstance(tenant, HttpResponse):
        return tenant
    return _detail(request, tenant)


@provider_admin_required
@require_POST
def tenant_status(request: HttpRequest, tenant_id: int, action: str) -> HttpResponse:
    """Suspend, resume or archive; the data is never touched."""
    tenant = _tenant_or_404(request, tenant_id)
    if isinstance(tenant, HttpResponse):
        return tenant
    try:
        _STATUS_CHANGES[action](tenant=tenant)
    except DomainError as exc:
        messages.error(request, user_message(exc))
    else:
        messages.success(
            request,
            _("「%(name)s」现在的状态：%(status)s。")
            % {"name": tenant.name, "status": tenant.get_status_display()},
        )
    return redirect("provider:tenant", tenant_id=tenant.pk)


@provider_admin_required
@require_POST
def tenant_branding(request: HttpRequest, tenant_id: int) -> HttpResponse:
    """Change the display name, logo and colour the member app is themed with."""
    tenant = _tenant_or_404(request, tenant_id)
    if isinstance(tenant, HttpResponse):
        return tenant
    form = BrandingForm(request.POST)
    if not form.is_valid():
        return _detail(request, tenant, branding=form, status=400)
    try:
        services.update_tenant(tenant=tenant, **form.cleaned_data)
    except DomainError as exc:
        form.add_error(None, user_message(exc))
        return _detail(request, tenant, branding=form, status=400)
    messages.success(request, _("品牌设置已保存。"))
    return redirect("provider:tenant", tenant_id=tenant.pk)


@provider_admin_required
@require_POST
def tenant_export(request: HttpRequest, tenant_id: int) -> HttpResponse:
    """pg_dump the tenant's schema into an archive listed on the detail page."""
    tenant = _tenant_or_404(request, tenant_id)
    if isinstance(tenant, HttpResponse):
        return tenant
    try:
        export = services.export_tenant(tenant=tenant, actor=request.user.get_username())
    except DomainError as exc:
        messages.error(request, user_message(exc))
    else:
        messages.success(request, _("导出完成：%(file)s") % {"file": export.file_name})
    return redirect("provider:tenant", tenant_id=tenant.pk)


@provider_admin_required
def export_download(request: HttpRequest, tenant_id: int, export_id: uuid.UUID) -> HttpResponseBase:
    """The archive itself, only ever to a signed-in provider admin."""
    tenant = _tenant_or_404(request, tenant_id)
    if isinstance(tenant, HttpResponse):
        return tenant
    try:
        export = selectors.get_export(tenant=tenant, export_id=export_id)
        path = services.export_path(export)
        handle = path.open("rb")
    except (ExportNotFoundError, OSError):
        return render_refusal(request, status=404, message=_("没有找到该导出文件。"))
    return FileResponse(handle, as_attachment=True, filename=export.file_name)
