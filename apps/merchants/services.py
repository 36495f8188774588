"""Write use cases for merchants and their POS API keys, and the HMAC request check."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.merchants.errors import (
    ApiKeyRevokedError,
    SignatureExpiredError,
    SignatureInvalidError,
    SignatureReplayedError,
)
from apps.merchants.models import ApiKey, Merchant
from atrium.crypto import decrypt, encrypt


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str


def create_merchant(*, name: str, business_format: str = "retail", unit: str = "") -> Merchant:
    """Add a merchant to the mall."""
    return Merchant.objects.create(name=name.strip(), business_format=business_format, unit=unit)


def create_api_key(*, merchant: Merchant, name: str = "") -> IssuedApiKey:
    """Issue a POS key; the returned secret is never shown again."""
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        key_id=f"ak_{secrets.token_hex(12)}",
        merchant=merchant,
        name=name,
        secret_encrypted=encrypt(secret),
    )
    return IssuedApiKey(api_key=key, secret=secret)


@transaction.atomic
def rotate_api_key(*, api_key: ApiKey) -> IssuedApiKey:
    """Replace a key by a new one and revoke the old. Raises ApiKeyRevokedError if already revoked."""
    if not api_key.is_active:
        raise ApiKeyRevokedError("API key is revoked", key_id=api_key.key_id)
    issued = create_api_key(merchant=api_key.merchant, name=api_key.name)
    api_key.revoked_at = timezone.now()
    api_key.replaced_by = issued.api_key
    api_key.save(update_fields=["revoked_at", "replaced_by"])
    return issued


def revoke_api_key(*, api_key: ApiKey) -> ApiKey:
    """Stop a key from authenticating anything, at once."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def string_to_sign(*, method: str, path: str, timestamp: str, body: bytes) -> str:
    """METHOD \\n PATH \\n TIMESTAMP \\n hex SHA-256 of the raw body (documented in the README)."""
    return "\n".join((method.upper(), path, timestamp, hashlib.sha256(body).hexdigest()))


def sign(*, secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the string to sign: what a POS sends."""
    message = string_to_sign(method=method, path=path, timestamp=timestamp, body=body)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_signed_request(
    *, key_id: str, timestamp: str, signature: str, method: str, path: str, body: bytes
) -> ApiKey:
    """Authenticate a machine request.

    Raises SignatureInvalidError, SignatureExpiredError, SignatureReplayedError, ApiKeyRevokedError.
    """
    api_key = ApiKey.objects.select_related("merchant").filter(key_id=key_id).first()
    if api_key is None:
        raise SignatureInvalidError("unknown API key")
    if not api_key.is_active:
        raise ApiKeyRevokedError("API key is revoked", key_id=key_id)
    if not api_key.merchant.is_active:
        raise ApiKeyRevokedError("merchant is inactive", key_id=key_id)
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise SignatureInvalidError("X-Atrium-Timestamp must be unix seconds") from exc
    skew = settings.HMAC_MAX_SKEW_SECONDS
    if abs(time.time() - sent_at) > skew:
        raise SignatureExpiredError("timestamp is outside the allowed window", max_skew=skew)
    expected = sign(
        secret=decrypt(api_key.secret_encrypted),
        method=method,
        path=path,
        timestamp=timestamp,
        body=body,
    )
    if not hmac.compare_digest(expected, signature.lower()):
        raise SignatureInvalidError("signature does not match")
    # A signature is only valid inside the skew window, so remembering it that long is enough.
    if not cache.add(f"hmac-seen:{key_id}:{signature.lower()}", 1, timeout=2 * skew):
        raise SignatureReplayedError("this signed request was already used")
    # Record use at most once a minute per key: a busy till must not pay a write per call.
    if cache.add(f"api-key-used:{key_id}", 1, timeout=60):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())
    return api_key
