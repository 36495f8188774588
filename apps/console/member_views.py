"""The member app at `/m/` (mobile-first, white-labelled with the tenant's name, logo and colour).

Join or sign in with a phone and a texted code (the demo's `file` SMS backend writes each text to
`.devdata/sms/`); then the home shows the member code (QR and barcode, a new one every minute),
points, tier progress and the daily check-in, and updates the balance live over the member
websocket. Points history, receipt upload, profile and consents have their own pages.

Views parse with forms, authorize with `member_required` (the member comes from the session,
never from the request), call one service or selector, and render.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.console.codes import barcode_svg, qr_svg
from apps.console.forms import (
    ConsentsForm,
    MemberOtpForm,
    MemberPhoneForm,
    ProfileForm,
    ReceiptForm,
)
from apps.console.member_auth import (
    fresh_access_token,
    member_required,
    sign_in_member,
    sign_out_member,
    signed_in_member,
)
from apps.console.selectors import member_home, member_profile, tier_standing
from apps.console.views import current_tenant
from apps.loyalty import selectors as loyalty_selectors
from apps.loyalty.services import earning
from apps.members import services as member_services
from apps.members.choices import ConsentKind, ConsentSource
from apps.members.identities import mask_phone
from apps.members.models import Member
from apps.merchants import selectors as merchant_selectors
from apps.sales import selectors as sales_selectors
from apps.sales import services as sales_services
from atrium.crypto import decrypt, encrypt
from atrium.errors import DomainError
from atrium.request_utils import client_ip
from atrium.web import brand_palette, safe_next_url, user_message

PENDING_KEY = "atrium.member.pending"
ENTRIES_PER_PAGE = 20


def _entry_points() -> dict[str, str]:
    """URLs of the member sign-up and sign-in pages that exist in this build."""
    found = {}
    for name in ("join", "login"):
        try:
            found[name] = reverse(f"member:{name}")
        except NoReverseMatch:
            continue
    return found


def _page(request: HttpRequest, template: str, context: dict[str, Any], **kw: Any) -> HttpResponse:
    return render(request, template, {"tenant": current_tenant(request), **context}, **kw)


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    """The branded welcome: program tiers and how points are earned (members go home)."""
    if signed_in_member(request) is not None:
        return redirect("member:home")
    return _page(
        request,
        "member/landing.html",
        {
            "tiers": list(loyalty_selectors.list_tiers()),
            "base_rule": loyalty_selectors.base_earning_rule(),
            "entry_points": _entry_points(),
        },
    )


@require_GET
def manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest: installable under the tenant's own name and colour."""
    tenant = current_tenant(request)
    palette = brand_palette(tenant.primary_color)
    icons = [{"src": reverse("member:icon"), "sizes": "any", "type": "image/svg+xml"}]
    if tenant.logo_url:
        icons.insert(0, {"src": tenant.logo_url, "sizes": "any", "purpose": "any"})
    body = {
        "name": tenant.brand_name,
        "short_name": tenant.brand_name[:12],
        "lang": tenant.locale,
        "start_url": reverse("member:landing"),
        "scope": reverse("member:landing"),
        "display": "standalone",
        "theme_color": palette.color,
        "background_color": "#F4F5F7",
        "icons": icons,
    }
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    return response


@require_GET
def icon(request: HttpRequest) -> HttpResponse:
    """A square icon: the brand's first letter on its colour (used when there is no logo)."""
    tenant = current_tenant(request)
    return render(
        request,
        "member/icon.svg",
        {"tenant": tenant, "palette": brand_palette(tenant.primary_color)},
        content_type="image/svg+xml",
    )


# --- joining and signing in -----------------------------------------------------------------


def _pending(request: HttpRequest, mode: str) -> dict[str, Any] | None:
    """The phone a code was texted to in this flow (kept encrypted in the session)."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or pending.get("mode") != mode:
        return None
    if pending.get("schema") != current_tenant(request).schema_name:
        return None
    return pending


def _send_code(request: HttpRequest, phone: str) -> str | None:
    """Text a code; the refusal (rate limit, SMS down) as a sentence, or None when sent."""
    try:
        member_services.send_otp(phone=phone, ip=client_ip(request))
    except DomainError as exc:
        return user_message(exc)
    return None


@never_cache
@require_http_methods(["GET", "POST"])
def join_view(request: HttpRequest) -> HttpResponse:
    """Join with a phone, its texted code and the consents (marketing optional)."""
    return _phone_sign_in(request, mode="join")


@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """Sign in with a phone and its texted code (an unknown phone joins, with the agreement)."""
    return _phone_sign_in(request, mode="login")


def _phone_sign_in(request: HttpRequest, *, mode: str) -> HttpResponse:
    if request.method == "GET" and signed_in_member(request) is not None:
        return redirect("member:home")
    action = request.POST.get("action", "")
    if request.GET.get("change") == "1":
        request.session.pop(PENDING_KEY, None)
    pending = _pending(request, mode)
    context: dict[str, Any] = {"mode": mode, "next": safe_next_url(request, "")}
    status = 200
    if pending is None or action == "send":
        form = MemberPhoneForm(request.POST if action == "send" else None)
        if action == "send":
            if form.is_valid():
                phone = form.cleaned_data["phone"]
                error = _send_code(request, phone)
                if error is None:
                    request.session[PENDING_KEY] = {
                        "mode": mode,
                        "schema": current_tenant(request).schema_name,
                        "phone": encrypt(phone),
                        "marketing": bool(form.cleaned_data["marketing"]) and mode == "join",
                        "next": context["next"],
                    }
                    messages.success(request, _("验证码已发送，5 分钟内有效。"))
                    return redirect(request.path)
                context["error"] = error
            status = 400
        context["form"] = form
        return _page(request, "member/sign_in.html", context, status=status)
    phone = decrypt(pending["phone"])
    context.update({"phone": mask_phone(phone), "form": MemberOtpForm()})
    if action == "resend":
        error = _send_code(request, phone)
        if error is None:
            messages.success(request, _("验证码已重新发送。"))
            return redirect(request.path)
        context["error"] = error
        status = 400
    elif action == "verify":
        otp_form = MemberOtpForm(request.POST)
        context["form"] = otp_form
        if otp_form.is_valid():
            consents = {ConsentKind.DATA_PROCESSING.value: True}
            if mode == "join":
                consents[ConsentKind.MARKETING.value] = bool(pending.get("marketing"))
            try:
                login = member_services.login_with_otp(
                    phone=phone, otp=otp_form.cleaned_data["otp"], consents=consents
                )
            except DomainError as exc:
                context["error"] = user_message(exc)
            else:
                request.session.pop(PENDING_KEY, None)
                sign_in_member(request, member=login.member, pair=login.tokens)
                messages.success(request, _("欢迎加入！") if login.created else _("欢迎回来。"))
                return redirect(pending.get("next") or reverse("member:home"))
        status = 400
    return _page(request, "member/sign_in.html", context, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """End the member's sign-in (and its API session)."""
    sign_out_member(request)
    return redirect("member:landing")


# --- home, code, live points ----------------------------------------------------------------


def _code_payload(member: Member) -> dict[str, Any]:
    code = member_services.issue_member_code(member=member)
    label = _("会员码")
    return {
        "code": code.code,
        "expires_in": code.expires_in,
        "qr": str(qr_svg(code.code, label=label)),
        "barcode": str(barcode_svg(code.code, label=label)),
    }


@never_cache
@require_GET
@member_required
def home(request: HttpRequest, member: Member) -> HttpResponse:
    """The member code, points, tier progress and today's check-in."""
    return _page(
        request,
        "member/home.html",
        {
            "home": member_home(member=member),
            "member_code": _code_payload(member),
            "access_token": fresh_access_token(request) or "",
            "websocket_port": settings.WEBSOCKET_PUBLIC_PORT,
        },
    )


@never_cache
@require_GET
@member_required
def code_json(request: HttpRequest, member: Member) -> JsonResponse:
    """The member code of this minute (QR and barcode as SVG), and when to ask again."""
    return JsonResponse(_code_payload(member))


@never_cache
@require_GET
@member_required
def token_json(request: HttpRequest, member: Member) -> JsonResponse:
    """A short-lived access token for the member websocket (`/ws/member/`)."""
    token = fresh_access_token(request)
    if token is None:
        return JsonResponse({"code": "auth.token_unavailable"}, status=409)
    return JsonResponse({"access_token": token})


@never_cache
@require_GET
@member_required
def summary_json(request: HttpRequest, member: Member) -> JsonResponse:
    """Points, growth and tier figures of the home page, to refresh it when points change."""
    summary = loyalty_selectors.points_summary(member=member)
    standing = tier_standing(member=member, summary=summary)
    return JsonResponse(
        {
            "balance": summary.balance,
            "spendable": summary.spendable,
            "pending": summary.pending,
            "expiring_soon": summary.expiring_soon,
            "growth": summary.growth,
            "tier": summary.tier.name if summary.tier else None,
            "tier_rank": summary.tier.rank if summary.tier else None,
            # The tier card as the home page renders it (same template, same language), so a
            # sale's new growth, gap to the next tier and retention notice show without a reload.
            "standing_html": render_to_string(
                "member/_standing.html", {"standing": standing}, request=request
            ),
        }
    )


@require_POST
@member_required
def check_in(request: HttpRequest, member: Member) -> HttpResponse:
    """Daily check-in: points once a day."""
    award = earning.check_in(member=member)
    if award.awarded:
        messages.success(request, _("签到成功，获得 %(points)s 积分。") % {"points": award.awarded})
    else:
        messages.info(request, _("今天已经签到过了，明天再来。"))
    return redirect("member:home")


@never_cache
@require_GET
@member_required
def points(request: HttpRequest, member: Member) -> HttpResponse:
    """Points history, newest first, 20 to a page."""
    page = Paginator(loyalty_selectors.list_entries(member=member), ENTRIES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return _page(
        request,
        "member/points.html",
        {"page": page, "summary": loyalty_selectors.points_summary(member=member)},
    )


# --- receipts, profile ----------------------------------------------------------------------


def _merchant_choices() -> list[tuple[str, str]]:
    return [
        (str(m.pk), f"{m.name} · {m.unit}" if m.unit else m.name)
        for m in merchant_selectors.list_merchants().filter(is_active=True)
    ]


@never_cache
@require_http_methods(["GET", "POST"])
@member_required
def receipts(request: HttpRequest, member: Member) -> HttpResponse:
    """Upload a receipt photo for points; the member's receipts and their review status."""
    form = ReceiptForm(request.POST or None, request.FILES or None, merchants=_merchant_choices())
    context: dict[str, Any] = {"form": form}
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                sales_services.submit_receipt(
                    member=member,
                    merchant=merchant_selectors.get_merchant(merchant_id=data["merchant"]),
                    receipt_no=data["receipt_no"],
                    amount=str(data["amount"]),
                    occurred_on=data["occurred_on"],
                    photo=data["photo"].read(),
                )
            except DomainError as exc:
                context["error"] = user_message(exc)
            else:
                messages.success(request, _("小票已提交，审核通过后积分到账。"))
                return redirect("member:receipts")
        status = 400
    context["receipts"] = list(sales_selectors.list_receipts(member=member)[:30])
    return _page(request, "member/receipts.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@member_required
def profile(request: HttpRequest, member: Member) -> HttpResponse:
    """Profile (a birthday is set once) and consents, each a dated record."""
    action = request.POST.get("action", "")
    phone, consents, records = member_profile(member=member)
    profile_form = ProfileForm(
        request.POST if action == "profile" else None,
        initial={
            "display_name": member.display_name,
            "name": member.name,
            "gender": member.gender,
            "birthday": member.birthday,
        },
    )
    if member.birthday is not None:
        profile_form.fields["birthday"].disabled = True  # set once; the service desk corrects it
    consents_form = ConsentsForm(request.POST if action == "consents" else None, initial=consents)
    context: dict[str, Any] = {
        "member": member,
        "phone": phone,
        "consents": consents,
        "records": records,
        "profile_form": profile_form,
        "consents_form": consents_form,
    }
    try:
        if action == "profile" and profile_form.is_valid():
            member_services.update_profile(
                member=member, changes=profile_form.cleaned_data, by_member=True
            )
            messages.success(request, _("资料已保存。"))
            return redirect("member:profile")
        if action == "consents" and consents_form.is_valid():
            member_services.set_consents(
                member=member, consents=consents_form.cleaned_data, source=ConsentSource.APP
            )
            messages.success(request, _("授权设置已保存。"))
            return redirect("member:profile")
    except DomainError as exc:
        context["error"] = user_message(exc)
    status = 400 if request.method == "POST" else 200
    return _page(request, "member/profile.html", context, status=status)
