"""Session sign-in for the pages on a tenant's host: mall staff on the console, merchant staff on
the merchant portal.

The session keeps the staff id *and* the schema it was opened in. Sessions live in the public
schema's table, so without the schema a session cookie of mall A would load on mall B's host;
with it, mall B treats that session as signed out. Passwords, throttling and the surface rules
(inactive accounts refused, merchant staff refused on the console and the other way round) are
`apps.accounts.services.authenticate_staff`, shared with the token login of the APIs.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from apps.accounts.models import StaffUser
from apps.accounts.permissions import Permission, has_permission
from apps.accounts.selectors import get_active_staff
from atrium.logging import actor_var
from atrium.tenancy import current_schema
from atrium.web import render_refusal

P = ParamSpec("P")
View = Callable[Concatenate[HttpRequest, P], HttpResponse]
StaffView = Callable[Concatenate[HttpRequest, StaffUser, P], HttpResponse]


class Surface(enum.StrEnum):
    CONSOLE = "console"
    MERCHANT = "merchant"

    @property
    def session_key(self) -> str:
        return f"atrium.{self.value}.staff"

    @property
    def login_url(self) -> str:
        return reverse(f"{self.value}:login")

    @property
    def home_url(self) -> str:
        return reverse(f"{self.value}:home")

    @property
    def for_merchant_staff(self) -> bool:
        return self is Surface.MERCHANT


def surface_of(staff: StaffUser) -> Surface:
    """Where an account works: merchant staff on the merchant portal, mall staff on the console."""
    return Surface.MERCHANT if staff.is_merchant_staff else Surface.CONSOLE


def sign_in(request: HttpRequest, *, staff: StaffUser, surface: Surface) -> None:
    """Bind the session to this account and this tenant's schema (new session key: no fixation)."""
    request.session.cycle_key()
    request.session[surface.session_key] = {"staff_id": str(staff.pk), "schema": current_schema()}


def sign_out(request: HttpRequest, *, surface: Surface) -> None:
    """Forget this surface's sign-in (the other surface's, if any, stays)."""
    request.session.pop(surface.session_key, None)
    request.session.cycle_key()


def signed_in_staff(request: HttpRequest, *, surface: Surface) -> StaffUser | None:
    """The active account signed in on this surface of this tenant, or None."""
    entry = request.session.get(surface.session_key)
    if not isinstance(entry, dict) or entry.get("schema") != current_schema():
        return None
    staff = get_active_staff(staff_id=str(entry.get("staff_id", "")))
    if staff is None or staff.is_merchant_staff != surface.for_merchant_staff:
        return None
    return staff


def staff_required(
    surface: Surface, permission: Permission | None = None
) -> Callable[[StaffView[P]], View[P]]:
    """Signed out (or signed in on another mall): to the sign-in page. Lacking the permission: 403.

    The view receives the signed-in account as its second argument.
    """

    def decorator(view: StaffView[P]) -> View[P]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
            staff = signed_in_staff(request, surface=surface)
            if staff is None:
                return redirect(f"{surface.login_url}?next={quote(request.get_full_path())}")
            actor_var.set(f"staff:{staff.pk}")
            if permission is not None and not has_permission(staff.role, permission):
                return render_refusal(
                    request,
                    status=403,
                    message=_("你的角色无权访问此页面。"),
                    home_url=surface.home_url,
                )
            return view(request, staff, *args, **kwargs)

        return wrapper

    return decorator
