"""Bearer authentication for the member API."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from ninja.security import HttpBearer

from apps.accounts.choices import SubjectKind
from apps.members.models import Member
from atrium import tokens
from atrium.errors import AuthenticationError
from atrium.logging import actor_var
from atrium.models import AuthSession


@dataclass(frozen=True)
class MemberPrincipal:
    member: Member
    session: AuthSession

    @property
    def scope_id(self) -> str:
        return f"member:{self.member.pk}"


def authenticate_member_token(token: str) -> MemberPrincipal:
    """The member behind an access token, for HTTP and websockets alike.

    Raises AuthenticationError for a bad, expired or revoked token or a closed account.
    """
    claims = tokens.read_access_token(token)
    if claims.subject_kind != SubjectKind.MEMBER:
        raise AuthenticationError("not a member token", reason="wrong_kind")
    session = tokens.active_session(session_model=AuthSession, claims=claims)
    member = Member.objects.filter(pk=claims.subject_id, is_active=True).first()
    if member is None:
        raise AuthenticationError("member account is closed", reason="inactive")
    assert isinstance(session, AuthSession)  # noqa: S101 - narrowing for the type checker
    principal = MemberPrincipal(member=member, session=session)
    actor_var.set(principal.scope_id)
    return principal


class MemberAuth(HttpBearer):
    """A member's access token, valid only in the mall that issued it."""

    def authenticate(self, request: HttpRequest, token: str) -> MemberPrincipal:
        return authenticate_member_token(token)
