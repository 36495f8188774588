"""Provider admin log in."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest

from atrium import throttle, tokens
from atrium.errors import AuthenticationError
from provider.auth import SUBJECT_KIND
from provider.models import ProviderSession


class InvalidProviderCredentialsError(AuthenticationError):
    code = "auth.invalid_credentials"


def authenticate_provider_admin(
    *, request: HttpRequest | None, username: str, password: str, ip: str
) -> AbstractBaseUser:
    """Check a provider admin's password (throttled; only `is_staff` users), for the API and the
    console alike. Raises ThrottledError, InvalidProviderCredentialsError."""
    throttle.check_login_allowed(surface="provider", username=username, ip=ip)
    user = authenticate(request, username=username, password=password)
    if user is None or not getattr(user, "is_staff", False):
        throttle.record_login_failure(surface="provider", username=username, ip=ip)
        raise InvalidProviderCredentialsError("username or password is wrong")
    throttle.clear_login_failures(surface="provider", username=username)
    return user


def login_provider_admin(
    *, request: HttpRequest | None, username: str, password: str, ip: str
) -> tokens.TokenPair:
    """Check a provider admin's password; open a session. Raises ThrottledError, auth errors."""
    user = authenticate_provider_admin(request=request, username=username, password=password, ip=ip)
    return tokens.issue_tokens(
        session_model=ProviderSession, subject_kind=SUBJECT_KIND, subject_id=str(user.pk)
    )


def refresh_provider_tokens(*, refresh_token: str) -> tokens.TokenPair:
    """Rotate a provider refresh token. Raises AuthenticationError."""
    return tokens.refresh_tokens(
        session_model=ProviderSession, refresh_token=refresh_token, subject_kinds={SUBJECT_KIND}
    )
