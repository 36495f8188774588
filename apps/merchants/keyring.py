"""What HMAC auth needs per POS key, kept per process and checked against a Redis generation.

A signed call used to select its key and merchant rows every time. The rows change rarely (a key
is created, rotated or revoked; a merchant is edited or suspended), so each process keeps them,
with the decrypted secret, in memory, tagged with the tenant's generation token, a random value in
the cache. Every change bumps the token (at once and again at commit: `invalidate`), and a call
reads the token in the same Redis round trip as its replay check, so a revoked key or a suspended
merchant is refused on the very next call in any process. The secret never leaves the process.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import router, transaction
from django_tenants.utils import schema_context

from apps.merchants.models import ApiKey, Merchant
from atrium.crypto import decrypt
from atrium.tenancy import current_schema

GENERATION_KEY = "merchants:auth:generation"
# A bound on memory, far above the keys a process serves: past it, start again from empty.
MAX_ENTRIES = 20_000

_API_KEY_COLUMNS = tuple(field.attname for field in ApiKey._meta.concrete_fields)
_MERCHANT_COLUMNS = tuple(field.attname for field in Merchant._meta.concrete_fields)


@dataclass(frozen=True)
class KeyEntry:
    """One key as auth reads it, with its merchant's row and the token it was read under."""

    generation: str
    key_id: str
    secret: str
    key_active: bool
    merchant_active: bool
    key_row: tuple[Any, ...]
    merchant_row: tuple[Any, ...]

    def api_key(self) -> ApiKey:
        """Fresh `ApiKey` and `Merchant` instances of this entry (one per call: they are mutable)."""
        merchant = Merchant.from_db(
            router.db_for_read(Merchant), _MERCHANT_COLUMNS, list(self.merchant_row)
        )
        api_key = ApiKey.from_db(router.db_for_read(ApiKey), _API_KEY_COLUMNS, list(self.key_row))
        ApiKey.merchant.field.set_cached_value(api_key, merchant)
        return api_key


# (schema, key id) -> entry. Entries are immutable; a dict's get and set are atomic, so threads
# share it without a lock (two threads loading the same key at once both store a right entry).
_entries: dict[tuple[str, str], KeyEntry] = {}


def cached(key_id: str) -> KeyEntry | None:
    """This process's entry for a key of the current tenant, current or not (no round trip)."""
    return _entries.get((current_schema(), key_id))


def generation(token: Any = None) -> str:
    """The tenant's generation token: `token` (read by the caller) or the cache's, made if none."""
    if token is None:
        token = cache.get(GENERATION_KEY)
    if token is None:
        cache.add(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
        token = cache.get(GENERATION_KEY)
    return str(token)


def load(key_id: str, *, token: str) -> KeyEntry | None:
    """Read a key and its merchant, and keep them under `token` (read before this, so a change
    committed meanwhile makes the next call read again). None for an unknown key."""
    api_key = ApiKey.objects.select_related("merchant").filter(key_id=key_id).first()
    place = (current_schema(), key_id)
    if api_key is None:
        _entries.pop(place, None)
        return None
    merchant = api_key.merchant
    entry = KeyEntry(
        generation=token,
        key_id=api_key.key_id,
        secret=decrypt(api_key.secret_encrypted),
        key_active=api_key.is_active,
        merchant_active=merchant.is_active,
        key_row=tuple(getattr(api_key, name) for name in _API_KEY_COLUMNS),
        merchant_row=tuple(getattr(merchant, name) for name in _MERCHANT_COLUMNS),
    )
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()
    _entries[place] = entry
    return entry


def current(key_id: str) -> KeyEntry | None:
    """The key's entry, checked against the tenant's token (one cache read), read if stale."""
    token = generation()
    entry = cached(key_id)
    if entry is not None and entry.generation == token:
        return entry
    return load(key_id, token=token)


def invalidate() -> None:
    """Make every process read the current tenant's keys and merchants again: now, and again once
    the change commits (so no process keeps rows read between the two)."""

    schema = current_schema()

    def bump() -> None:
        # The key carries the schema: a commit may run after the caller left the tenant's schema.
        with schema_context(schema):
            cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)

    bump()
    transaction.on_commit(bump)
