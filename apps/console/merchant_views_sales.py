"""The merchant portal's sales screen: today's sales of the signed-in account's merchant, each
with its split lines, the day's totals and points; new sales arrive live over `/ws/merchant/`.

The merchant comes from the signed-in account, never from the request: another merchant's sale
id is "not found". The websocket authenticates with an access token; the page takes one from
`token.json`, which keeps one API session per page session (its refresh token encrypted in the
Django session, rotated on each call) and ends it on sign-out.
"""

from __future__ import annotations

import uuid

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.accounts.choices import SubjectKind
from apps.accounts.models import StaffUser
from apps.accounts.permissions import Permission
from apps.accounts.services import refresh_staff_tokens
from apps.console.auth import Surface, staff_required
from apps.console.merchant_sales import merchant_sale_row, merchant_sales_day
from apps.console.views import current_tenant
from apps.merchants.models import Merchant
from atrium import tokens
from atrium.crypto import decrypt, encrypt, sha256_hex
from atrium.errors import AuthenticationError
from atrium.models import AuthSession
from atrium.tenancy import current_schema
from atrium.web import render_refusal

MERCHANT = Surface.MERCHANT
SOCKET_KEY = "atrium.merchant.socket"


def _merchant(staff: StaffUser) -> Merchant:
    assert staff.merchant is not None  # noqa: S101 - staff_required(MERCHANT): merchant staff
    return staff.merchant


@never_cache
@staff_required(MERCHANT, Permission.MERCHANT_MANAGE)
@require_GET
def sales(request: HttpRequest, staff: StaffUser) -> HttpResponse:
    """Today's sales with their split lines, the day's totals, points issued and accepted."""
    merchant = _merchant(staff)
    return render(
        request,
        "merchant/sales.html",
        {
            "tenant": current_tenant(request),
            "merchant": merchant,
            "day": merchant_sales_day(merchant=merchant),
            "websocket_port": settings.WEBSOCKET_PUBLIC_PORT,
        },
    )


@never_cache
@staff_required(MERCHANT, Permission.MERCHANT_MANAGE)
@require_GET
def sale_row(request: HttpRequest, staff: StaffUser, sale_id: uuid.UUID) -> HttpResponse:
    """One sale's row (with its split lines) as the sales screen shows it, for the live update."""
    row = merchant_sale_row(merchant=_merchant(staff), sale_id=sale_id)
    if row is None:
        return render_refusal(
            request, status=404, message=_("没有找到这笔消费。"), home_url=MERCHANT.home_url
        )
    return render(request, "merchant/_sale_row.html", {"row": row})


def _socket_token(request: HttpRequest, staff: StaffUser) -> str:
    entry = request.session.get(SOCKET_KEY)
    pair: tokens.TokenPair | None = None
    if (
        isinstance(entry, dict)
        and entry.get("schema") == current_schema()
        and entry.get("staff_id") == str(staff.pk)
    ):
        try:
            pair = refresh_staff_tokens(refresh_token=decrypt(entry["refresh"]))
        except (AuthenticationError, InvalidToken, KeyError):
            pair = None
    if pair is None:
        pair = tokens.issue_tokens(
            session_model=AuthSession, subject_kind=SubjectKind.STAFF, subject_id=str(staff.pk)
        )
    request.session[SOCKET_KEY] = {
        "schema": current_schema(),
        "staff_id": str(staff.pk),
        "refresh": encrypt(pair.refresh_token),
    }
    return pair.access_token


def end_socket_session(request: HttpRequest) -> None:
    """Sign-out: end the websocket's API session too (its access tokens stop working)."""
    entry = request.session.pop(SOCKET_KEY, None)
    if not isinstance(entry, dict) or entry.get("schema") != current_schema():
        return
    try:
        refresh = decrypt(entry["refresh"])
    except (InvalidToken, KeyError):
        return
    session = AuthSession.objects.filter(
        refresh_hash=sha256_hex(refresh), subject_kind=SubjectKind.STAFF
    ).first()
    if session is not None:
        tokens.revoke_session(session=session)


@never_cache
@staff_required(MERCHANT, Permission.MERCHANT_MANAGE)
@require_GET
def socket_token(request: HttpRequest, staff: StaffUser) -> JsonResponse:
    """A short-lived access token for the merchant websocket (`/ws/merchant/`)."""
    return JsonResponse({"access_token": _socket_token(request, staff)})
