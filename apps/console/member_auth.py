"""Session sign-in for the member app at `/m/`.

Like the staff sign-in (`apps.console.auth`), the session keeps the member id *and* the schema it
was opened in, so a session cookie of mall A is signed out on mall B's host. It also keeps the
member's API session (the token pair `login_with_otp` opened): its id, so that a merge, a closed
account or a logout elsewhere signs the page out too, and its refresh token (encrypted), so that
the page can hand its scripts a short-lived access token for the websocket without opening a new
session each time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec
from urllib.parse import quote

from cryptography.fernet import InvalidToken
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from apps.accounts.choices import SubjectKind
from apps.members.models import Member
from apps.members.services import refresh_member_tokens
from atrium import tokens
from atrium.crypto import decrypt, encrypt
from atrium.errors import AuthenticationError
from atrium.logging import actor_var
from atrium.models import AuthSession
from atrium.tenancy import current_schema

P = ParamSpec("P")
View = Callable[Concatenate[HttpRequest, P], HttpResponse]
MemberView = Callable[Concatenate[HttpRequest, Member, P], HttpResponse]

SESSION_KEY = "atrium.member"


def sign_in_member(request: HttpRequest, *, member: Member, pair: tokens.TokenPair) -> None:
    """Bind the session to this member, this tenant's schema and the API session of `pair`."""
    claims = tokens.read_access_token(pair.access_token)
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "member_id": str(member.pk),
        "schema": current_schema(),
        "session_id": claims.session_id,
        "refresh": encrypt(pair.refresh_token),
    }


def _api_session(entry: dict[str, str]) -> AuthSession | None:
    return AuthSession.objects.filter(
        pk=entry.get("session_id", ""),
        subject_kind=SubjectKind.MEMBER,
        subject_id=entry.get("member_id", ""),
        revoked_at__isnull=True,
    ).first()


def _entry(request: HttpRequest) -> dict[str, str] | None:
    entry = request.session.get(SESSION_KEY)
    if not isinstance(entry, dict) or entry.get("schema") != current_schema():
        return None
    return entry


def sign_out_member(request: HttpRequest) -> None:
    """End the member's sign-in here and its API session (the other surfaces' stay)."""
    entry = _entry(request)
    if entry is not None and (session := _api_session(entry)) is not None:
        tokens.revoke_session(session=session)
    request.session.pop(SESSION_KEY, None)
    request.session.cycle_key()


def signed_in_member(request: HttpRequest) -> Member | None:
    """The active member signed in on this tenant, while their API session lives; else None."""
    entry = _entry(request)
    if entry is None or _api_session(entry) is None:
        return None
    return Member.objects.filter(pk=entry.get("member_id", ""), is_active=True).first()


def fresh_access_token(request: HttpRequest) -> str | None:
    """A short-lived access token of the signed-in member's API session (for the websocket).

    Rotates the refresh token kept in the session; None when the session cannot be refreshed
    (revoked, expired, or rotated by another tab a moment ago: the page asks again later).
    """
    entry = _entry(request)
    if entry is None:
        return None
    try:
        pair = refresh_member_tokens(refresh_token=decrypt(entry["refresh"]))
    except (AuthenticationError, InvalidToken, KeyError):
        return None
    request.session[SESSION_KEY] = {**entry, "refresh": encrypt(pair.refresh_token)}
    return pair.access_token


def member_required(view: MemberView[P]) -> View[P]:
    """Signed out (or signed in on another mall): to the sign-in page, or 401 for JSON calls.

    The view receives the signed-in member as its second argument.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        member = signed_in_member(request)
        if member is None:
            if request.path.endswith(".json"):
                return JsonResponse({"code": "auth.required"}, status=401)
            return redirect(f"{reverse('member:login')}?next={quote(request.get_full_path())}")
        actor_var.set(f"member:{member.pk}")
        return view(request, member, *args, **kwargs)

    return wrapper
