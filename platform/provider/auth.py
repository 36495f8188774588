"""Bearer authentication for the provider API."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from ninja.security import HttpBearer

from atrium import tokens
from atrium.errors import AuthenticationError
from provider.models import ProviderSession

SUBJECT_KIND = "provider"


@dataclass(frozen=True)
class ProviderPrincipal:
    user: AbstractBaseUser
    session: ProviderSession

    @property
    def scope_id(self) -> str:
        return f"provider:{self.user.pk}"


class ProviderAuth(HttpBearer):
    """A provider admin's access token (only valid on the bare domain)."""

    def authenticate(self, request: HttpRequest, token: str) -> ProviderPrincipal:
        claims = tokens.read_access_token(token)
        if claims.subject_kind != SUBJECT_KIND:
            raise AuthenticationError("not a provider token", reason="wrong_kind")
        session = tokens.active_session(session_model=ProviderSession, claims=claims)
        user = get_user_model().objects.filter(pk=claims.subject_id, is_active=True).first()
        if user is None or not getattr(user, "is_staff", False):
            raise AuthenticationError("account is inactive", reason="inactive")
        assert isinstance(session, ProviderSession)  # noqa: S101 - narrowing for the type checker
        return ProviderPrincipal(user=user, session=session)
