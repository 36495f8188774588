"""Bearer tokens: short-lived signed access tokens bound to a revocable, rotating refresh session.

An access token names its schema, so a token of mall A is refused by mall B even before the
session lookup (which would fail too: sessions live in the tenant's own schema).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import models, transaction
from django.utils import timezone

from atrium.crypto import new_secret, sha256_hex
from atrium.errors import AuthenticationError
from atrium.models import AbstractAuthSession
from atrium.tenancy import current_schema

ACCESS_SALT = "atrium.access-token"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


@dataclass(frozen=True)
class AccessClaims:
    schema: str
    subject_kind: str
    subject_id: str
    session_id: str
    expires_at: float  # epoch seconds: a websocket opened with the token closes then


def _mint_access(session: AbstractAuthSession) -> str:
    payload = {
        "s": current_schema(),
        "k": session.subject_kind,
        "u": session.subject_id,
        "sid": str(session.pk),
        "x": int(time.time()) + settings.ACCESS_TOKEN_TTL_SECONDS,
    }
    return signing.dumps(payload, salt=ACCESS_SALT, compress=True)


def issue_tokens(
    *, session_model: type[AbstractAuthSession], subject_kind: str, subject_id: str
) -> TokenPair:
    """Open a session for a subject and return its first token pair."""
    refresh = new_secret()
    session = session_model._default_manager.create(
        subject_kind=subject_kind,
        subject_id=subject_id,
        refresh_hash=sha256_hex(refresh),
        refresh_expires_at=timezone.now()
        + dt.timedelta(seconds=settings.REFRESH_TOKEN_TTL_SECONDS),
    )
    return TokenPair(
        access_token=_mint_access(session),
        refresh_token=refresh,
        expires_in=settings.ACCESS_TOKEN_TTL_SECONDS,
    )


@transaction.atomic
def refresh_tokens(
    *, session_model: type[AbstractAuthSession], refresh_token: str, subject_kinds: set[str]
) -> TokenPair:
    """Rotate a refresh token. Raises AuthenticationError if unknown, expired, revoked or reused."""
    session = (
        session_model._default_manager.select_for_update()
        .filter(refresh_hash=sha256_hex(refresh_token), subject_kind__in=subject_kinds)
        .first()
    )
    now = timezone.now()
    if session is None or session.revoked_at is not None or session.refresh_expires_at <= now:
        raise AuthenticationError("refresh token is invalid, expired or revoked")
    refresh = new_secret()
    session.refresh_hash = sha256_hex(refresh)
    session.refreshed_at = now
    session.save(update_fields=["refresh_hash", "refreshed_at"])
    return TokenPair(
        access_token=_mint_access(session),
        refresh_token=refresh,
        expires_in=settings.ACCESS_TOKEN_TTL_SECONDS,
    )


def read_access_token(token: str) -> AccessClaims:
    """Check an access token's signature, age and schema. Raises AuthenticationError."""
    try:
        payload = signing.loads(token, salt=ACCESS_SALT, max_age=settings.ACCESS_TOKEN_TTL_SECONDS)
    except signing.SignatureExpired as exc:
        raise AuthenticationError("access token expired", reason="expired") from exc
    except signing.BadSignature as exc:
        raise AuthenticationError("access token is invalid", reason="invalid") from exc
    if payload.get("s") != current_schema():
        raise AuthenticationError("token belongs to another tenant", reason="wrong_tenant")
    # A token minted before expiries were written in it is younger than the TTL: at most that.
    latest = time.time() + settings.ACCESS_TOKEN_TTL_SECONDS
    return AccessClaims(
        schema=payload["s"],
        subject_kind=payload["k"],
        subject_id=str(payload["u"]),
        session_id=payload["sid"],
        expires_at=min(float(payload.get("x", latest)), latest),
    )


def active_session(
    *, session_model: type[AbstractAuthSession], claims: AccessClaims
) -> AbstractAuthSession:
    """The live session behind an access token. Raises AuthenticationError when revoked."""
    session = session_model._default_manager.filter(
        pk=claims.session_id, revoked_at__isnull=True, subject_kind=claims.subject_kind
    ).first()
    if session is None:
        raise AuthenticationError("session revoked", reason="revoked")
    return session


def revoke_session(*, session: AbstractAuthSession) -> None:
    """End a login: its refresh token and every access token minted from it stop working."""
    type(session)._default_manager.filter(pk=session.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def revoke_subject_sessions(
    *, session_model: type[AbstractAuthSession], subject_kind: str, subject_id: str
) -> int:
    """End every login of one subject (on deactivation or password change)."""
    live: models.QuerySet[AbstractAuthSession] = session_model._default_manager.filter(
        subject_kind=subject_kind, subject_id=subject_id, revoked_at__isnull=True
    )
    return live.update(revoked_at=timezone.now())
