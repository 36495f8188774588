"""Bearer authentication for the console and the merchant portal APIs."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from ninja.security import HttpBearer

from apps.accounts.choices import SubjectKind
from apps.accounts.models import StaffUser
from apps.accounts.selectors import get_active_staff
from atrium import tokens
from atrium.errors import AuthenticationError
from atrium.logging import actor_var
from atrium.models import AuthSession


@dataclass(frozen=True)
class StaffPrincipal:
    """Who is calling: a staff account and the login it uses."""

    staff: StaffUser
    session: AuthSession

    @property
    def scope_id(self) -> str:
        return f"staff:{self.staff.pk}"


def authenticate_staff_token(token: str, *, merchant_portal: bool) -> StaffPrincipal:
    """The staff member behind an access token, for HTTP and websockets alike.

    Raises AuthenticationError for a bad, expired or revoked token, or the wrong surface.
    """
    claims = tokens.read_access_token(token)
    if claims.subject_kind != SubjectKind.STAFF:
        raise AuthenticationError("not a staff token", reason="wrong_kind")
    session = tokens.active_session(session_model=AuthSession, claims=claims)
    staff = get_active_staff(staff_id=claims.subject_id)
    if staff is None or staff.is_merchant_staff != merchant_portal:
        raise AuthenticationError("account is inactive or not allowed here", reason="inactive")
    assert isinstance(session, AuthSession)  # noqa: S101 - narrowing for the type checker
    principal = StaffPrincipal(staff=staff, session=session)
    actor_var.set(principal.scope_id)
    return principal


class ConsoleAuth(HttpBearer):
    """A mall staff member's access token."""

    def authenticate(self, request: HttpRequest, token: str) -> StaffPrincipal:
        return authenticate_staff_token(token, merchant_portal=False)


class MerchantPortalAuth(HttpBearer):
    """A merchant staff member's access token."""

    def authenticate(self, request: HttpRequest, token: str) -> StaffPrincipal:
        return authenticate_staff_token(token, merchant_portal=True)
