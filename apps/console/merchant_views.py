"""The merchant portal at `/merchant/` (mobile-first): merchant staff sign in to the cashier screen.

The home is the cashier screen: scan the member code the member shows (a scanner types it into the
focused field) or type their phone, enter the amount and how it was paid, and the sale is recorded
through `apps.sales.services.record_sale` (channel `portal`) with this merchant's points rules; the
page then shows the points earned and the member's new balance, and today's sales of this merchant
(never another's: the merchant comes from the signed-in account, not from the request).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts.models import StaffUser
from apps.accounts.permissions import Permission
from apps.clearing import selectors as clearing_selectors
from apps.console.auth import Surface, sign_out, staff_required
from apps.console.forms import CashierSaleForm, business_format_label
from apps.console.selectors import merchant_sales_today, merchant_today
from apps.console.views import current_tenant, staff_login_page
from apps.loyalty import selectors as loyalty_selectors
from apps.merchants.models import Merchant
from apps.sales.choices import Channel
from apps.sales.services import MemberRef, PaymentLine, record_sale
from atrium.errors import DomainError
from atrium.web import show_once, take_once, user_message

MERCHANT = Surface.MERCHANT


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """Merchant staff sign in; mall staff, inactive or throttled accounts are refused."""
    return staff_login_page(request, surface=MERCHANT, template="merchant/login.html")


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """End the merchant portal sign-in."""
    sign_out(request, surface=MERCHANT)
    return redirect(MERCHANT.login_url)


def _merchant_of(staff: StaffUser) -> Merchant:
    merchant = staff.merchant
    assert merchant is not None  # noqa: S101 - staff_required(MERCHANT) admits merchant staff only
    return merchant


def _cashier_page(
    request: HttpRequest,
    staff: StaffUser,
    *,
    form: CashierSaleForm,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    merchant = _merchant_of(staff)
    return render(
        request,
        "merchant/home.html",
        {
            "tenant": current_tenant(request),
            "staff": staff,
            "merchant": merchant,
            "format": business_format_label(merchant.business_format),
            "form": form,
            "result": take_once(request, "cashier-sale"),
            "sales": merchant_sales_today(merchant=merchant),
            "today": merchant_today(merchant=merchant),
            "now": timezone.localtime(),
            "base_rule": loyalty_selectors.base_earning_rule(),
            "tiers": list(loyalty_selectors.list_tiers()),
            "clearing": clearing_selectors.merchant_position(
                merchant=merchant,
                start=timezone.localdate().replace(day=1),
                end=timezone.localdate(),
            ),
            **extra,
        },
        status=status,
    )


def _new_sale_form(data: Any = None) -> CashierSaleForm:
    # The ticket id is made with the form: a double tap or a resubmission replays the same sale.
    return CashierSaleForm(data, initial={"external_id": f"P{uuid.uuid4().hex[:20].upper()}"})


@staff_required(MERCHANT, Permission.MERCHANT_SELL)
@require_http_methods(["GET", "POST"])
def home(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """The cashier screen: record a sale for a member (or none); today's sales of this shop."""
    if request.method == "GET":
        return _cashier_page(request, staff, form=_new_sale_form())
    form = _new_sale_form(request.POST)
    if not form.is_valid():
        return _cashier_page(request, staff, form=form, status=400)
    data = form.cleaned_data
    ref = form.member_ref()
    amount = str(data["amount"])
    try:
        result = record_sale(
            merchant=_merchant_of(staff),
            external_id=data["external_id"],
            occurred_at=None,
            total=amount,
            payments=[PaymentLine(method=data["method"], amount=amount)],
            member_ref=MemberRef(**{ref[0]: ref[1]}) if ref else None,
            channel=Channel.PORTAL,
            actor=f"staff:{staff.pk}",
        )
    except DomainError as exc:
        return _cashier_page(request, staff, form=form, status=400, error=user_message(exc))
    sale = result.sale
    show_once(
        request,
        "cashier-sale",
        {
            "external_id": sale.external_id,
            "total": str(sale.total),
            "member_no": sale.member.member_no if sale.member else "",
            "points": str(result.points_earned),
            "balance": "" if result.points_balance is None else str(result.points_balance),
            "tier": result.tier or "",
            "replayed": "" if result.created else "1",
        },
    )
    return redirect(MERCHANT.home_url)
