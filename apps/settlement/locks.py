"""Every lock of the settlement app. Cross-app order: sale key -> member account -> merchant.

Money lines and period closes meet on one advisory lock per merchant: writers of lines hold it
shared (they never wait for each other), a close holds it exclusive. So a close waits for the
lines being written, and a line written after the close sees the new cursor and rolls forward.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable

from django.db import connection

from atrium.sql import Statement
from atrium.tenancy import current_schema


def _merchant_key(merchant_id: uuid.UUID) -> int:
    digest = hashlib.sha256(f"{current_schema()}:settlement:{merchant_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lines_lock(*, merchant_ids: Iterable[uuid.UUID]) -> None:
    """Hold the shared lock of each merchant whose lines this transaction writes (pk order)."""
    statement = lines_lock_statement(merchant_ids=merchant_ids)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql.replace("%(k)s", "%s"), [statement.params["k"]])


def lines_lock_statement(*, merchant_ids: Iterable[uuid.UUID]) -> Statement:
    """`lines_lock` as a statement to run with others (`atrium.sql.run_statements`)."""
    keys = sorted({_merchant_key(m) for m in merchant_ids})
    return Statement(
        "SELECT pg_advisory_xact_lock_shared(k) FROM unnest(%(k)s::bigint[]) AS k", {"k": keys}
    )


def close_lock(*, merchant_id: uuid.UUID) -> None:
    """Hold a merchant's exclusive lock: no line is being written for it until commit."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_merchant_key(merchant_id)])


def close_locks(*, merchant_ids: Iterable[uuid.UUID]) -> None:
    """Hold several merchants' exclusive locks (a batch close), in key order, in one round trip."""
    keys = sorted({_merchant_key(m) for m in merchant_ids})
    if keys:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", [keys])
