"""Every row lock of the sales app. Cross-app order: sale key or row -> member account -> merchant.

`record_sale` takes the sale-key lock before it looks anything up, so concurrent retries of one
sale queue behind the first attempt and then replay its result; `award_sale` locks the member's
points account after it. Refunds lock the sale row, then (via loyalty) the points account.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

from apps.merchants.models import Merchant
from apps.sales.errors import ReceiptNotFoundError, SaleNotFoundError
from apps.sales.models import Receipt, Sale
from atrium.sql import Statement, pg_array
from atrium.tenancy import current_schema


def _sale_key(merchant_id: uuid.UUID, external_id: str) -> int:
    digest = hashlib.sha256(f"{current_schema()}:sale:{merchant_id}:{external_id}".encode())
    return int.from_bytes(digest.digest()[:8], "big", signed=True)


def sale_keys_lock_statement(*, keys: Sequence[tuple[uuid.UUID, str]]) -> Statement:
    """Transaction-scoped advisory locks on (merchant id, external id) pairs, held until commit,
    in one statement and in key order (two batches sharing sales cannot deadlock). Advisory
    locks are database-wide, so a key carries the schema: two malls never queue behind each
    other. Run it inside `transaction.atomic`, before any member account lock and before
    reading the sales it guards (a later statement, so that it sees what the lock waited for)."""
    ordered = sorted({_sale_key(merchant_id, external_id) for merchant_id, external_id in keys})
    if len(ordered) == 1:
        return Statement("SELECT pg_advisory_xact_lock(%(k)s::bigint)", {"k": ordered[0]})
    return Statement(
        "SELECT pg_advisory_xact_lock(k) FROM unnest(%(k)s::bigint[]) WITH ORDINALITY AS "
        "t(k, n) ORDER BY n",
        {"k": pg_array(ordered)},
    )


def sale_for_update(*, merchant: Merchant, external_id: str) -> Sale:
    """This merchant's sale (never another's), locked. Raises SaleNotFoundError."""
    sale = (
        Sale.objects.select_for_update(of=("self",))
        .select_related("member")
        .filter(merchant=merchant, external_id=external_id)
        .first()
    )
    if sale is None:
        raise SaleNotFoundError("sale not found", external_id=external_id)
    return sale


def receipt_for_update(*, receipt_id: uuid.UUID | str) -> Receipt:
    """One receipt of the mall, locked for review. Raises ReceiptNotFoundError."""
    try:
        receipt = (
            Receipt.objects.select_for_update(of=("self",))
            .select_related("member", "merchant")
            .filter(pk=receipt_id)
            .first()
        )
    except ValueError as exc:  # not a UUID
        raise ReceiptNotFoundError("receipt not found") from exc
    if receipt is None:
        raise ReceiptNotFoundError("receipt not found")
    return receipt
