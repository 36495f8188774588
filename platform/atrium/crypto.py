"""Encryption of secrets at rest (API key secrets now; phone numbers later) and token hashing."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet
from django.conf import settings


def _fernet() -> Fernet:
    digest = hashlib.sha256(f"atrium.fields:{settings.FIELD_ENCRYPTION_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plaintext: str) -> str:
    """Encrypt a short secret for storage."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    """Decrypt a value written by `encrypt`."""
    return _fernet().decrypt(ciphertext.encode()).decode()


def sha256_hex(value: str | bytes) -> str:
    """Lowercase hex SHA-256 (stored form of bearer secrets: we never keep them in clear)."""
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()


def keyed_hash(value: str) -> str:
    """A deterministic keyed hash for lookups of encrypted values (e.g. a phone number)."""
    mac = _lookup_mac(settings.FIELD_ENCRYPTION_KEY).copy()
    mac.update(value.encode())
    return mac.hexdigest()


@functools.lru_cache(maxsize=4)
def _lookup_mac(key: str) -> hmac.HMAC:
    # The keyed state is set up once per key and copied for each value: a request hash per sale
    # otherwise pays HMAC's key schedule every time.
    return hmac.new(f"atrium.lookup:{key}".encode(), digestmod=hashlib.sha256)


def new_secret(nbytes: int = 32) -> str:
    """A URL-safe random secret."""
    return secrets.token_urlsafe(nbytes)
