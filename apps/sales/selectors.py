"""Reads of sales, refunds and receipts. Merchant-facing reads take `merchant=`: a merchant only
ever sees its own sales, whatever id it sends."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator, Sequence

from django.db.models import Prefetch, QuerySet

from apps.loyalty.models import PointsAccount, Tier
from apps.loyalty.services.earning import SaleFacts
from apps.loyalty.services.earning import SaleItem as FactItem
from apps.loyalty.services.earning import SalePayment as FactPayment
from apps.members.models import Member
from apps.merchants.models import Merchant
from apps.sales.errors import ReceiptNotFoundError, SaleNotFoundError
from apps.sales.models import Receipt, Refund, Sale, SaleItem, SalePayment
from atrium.sql import Statement, pg_array


def recorded_sales_statement(*, keys: Sequence[tuple[uuid.UUID, str]]) -> Statement:
    """The sales among these (merchant id, external id) pairs as rows (merchant id, external id,
    sale id, request hash), for `atrium.sql.run_statements` (see `recorded_sale_hashes`)."""
    pairs = sorted(set(keys))
    sql = (
        f"SELECT s.merchant_id, s.external_id, s.id, s.request_hash FROM {Sale._meta.db_table} s "  # noqa: S608 - names only
        "JOIN unnest(%(m)s::uuid[], %(e)s::text[]) AS k(merchant_id, external_id) "
        "ON s.merchant_id = k.merchant_id AND s.external_id = k.external_id"
    )
    return Statement(
        sql,
        {"m": pg_array(m for m, _ in pairs), "e": pg_array(e for _, e in pairs)},
        prepare=False,  # planned for the table's current size (see `Statement`)
    )


def recorded_sale_hashes(
    rows: Iterable[tuple[uuid.UUID, str, uuid.UUID, str]],
) -> dict[tuple[uuid.UUID, str], tuple[uuid.UUID, str]]:
    """(merchant id, external id) -> (sale id, request hash), from the rows of
    `recorded_sales_statement`."""
    return {
        (merchant_id, external_id): (sale_id, request_hash)
        for merchant_id, external_id, sale_id, request_hash in rows
    }


def sales_by_id(*, sale_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Sale]:
    """Sales by id (the writer's replays)."""
    return {sale.pk: sale for sale in Sale.objects.filter(pk__in=list(sale_ids))}


def _with_lines(queryset: QuerySet[Sale]) -> QuerySet[Sale]:
    return queryset.prefetch_related(
        Prefetch("items", queryset=SaleItem.objects.order_by("position")),
        Prefetch("payments", queryset=SalePayment.objects.order_by("position")),
        Prefetch("refunds", queryset=Refund.objects.order_by("created_at", "id")),
    )


def list_sales(
    *,
    merchant: Merchant | None = None,
    merchant_id: uuid.UUID | None = None,
    member_id: uuid.UUID | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[Sale]:
    """Sales, newest first: one merchant's (`merchant=`) or, for the console, the whole mall's
    filtered by merchant id, member id and a time range [since, until)."""
    queryset = Sale.objects.order_by("-occurred_at", "-id")
    if merchant is not None:
        queryset = queryset.filter(merchant=merchant)
    if merchant_id is not None:
        queryset = queryset.filter(merchant_id=merchant_id)
    if member_id is not None:
        queryset = queryset.filter(member_id=member_id)
    if since is not None:
        queryset = queryset.filter(occurred_at__gte=since)
    if until is not None:
        queryset = queryset.filter(occurred_at__lt=until)
    return queryset


def get_merchant_sale(*, merchant: Merchant, external_id: str) -> Sale:
    """One sale of this merchant, with its lines and refunds. Raises SaleNotFoundError."""
    sale = _with_lines(Sale.objects.filter(merchant=merchant, external_id=external_id)).first()
    if sale is None:
        raise SaleNotFoundError("sale not found", external_id=external_id)
    return sale


def get_sale(*, sale_id: uuid.UUID | str) -> Sale:
    """One sale of the mall (console), with its lines and refunds. Raises SaleNotFoundError."""
    try:
        sale = _with_lines(Sale.objects.filter(pk=sale_id)).first()
    except ValueError as exc:
        raise SaleNotFoundError("sale not found") from exc
    if sale is None:
        raise SaleNotFoundError("sale not found")
    return sale


def sales_for_backtest(
    *, since: dt.datetime, until: dt.datetime, limit: int
) -> Iterator[tuple[SaleFacts, Tier | None]]:
    """Past sales as the earning engine sees them, with each member's tier today (the closest
    record of their tier then), oldest first, at most `limit`."""
    sales = (
        Sale.objects.filter(occurred_at__gte=since, occurred_at__lt=until)
        .select_related("merchant")
        .prefetch_related(
            Prefetch("items", queryset=SaleItem.objects.order_by("position")),
            Prefetch("payments", queryset=SalePayment.objects.order_by("position")),
        )
        .order_by("occurred_at", "id")[:limit]
    )
    tiers: dict[uuid.UUID, Tier | None] = {}
    for chunk in _chunks(sales, 2000):
        member_ids = {s.member_id for s in chunk if s.member_id and s.member_id not in tiers}
        for account in PointsAccount.objects.filter(member_id__in=member_ids).select_related(
            "tier"
        ):
            tiers[account.member_id] = account.tier
        for sale in chunk:
            facts = SaleFacts(
                total=sale.total,
                occurred_at=sale.occurred_at,
                merchant_id=sale.merchant_id,
                business_format=sale.merchant.business_format,
                payments=tuple(FactPayment(p.method, p.amount) for p in sale.payments.all()),
                items=tuple(FactItem(i.amount, i.category) for i in sale.items.all()),
            )
            yield facts, tiers.get(sale.member_id) if sale.member_id else None


def _chunks(queryset: QuerySet[Sale], size: int) -> Iterator[list[Sale]]:
    # Prefetching needs a list per chunk; slicing keeps memory flat on a month of sales.
    offset = 0
    while True:
        chunk = list(queryset[offset : offset + size])
        if not chunk:
            return
        yield chunk
        offset += size


def list_receipts(*, status: str | None = None, member: Member | None = None) -> QuerySet[Receipt]:
    """Receipts, newest first: the review queue (`status=pending`) or one member's own."""
    queryset = Receipt.objects.select_related("merchant").order_by("-created_at", "-id")
    if status:
        queryset = queryset.filter(status=status)
    if member is not None:
        queryset = queryset.filter(member=member)
    return queryset


def get_receipt(*, receipt_id: uuid.UUID | str, member: Member | None = None) -> Receipt:
    """One receipt of the mall, or of this member only when `member` is given.

    Raises ReceiptNotFoundError.
    """
    queryset = Receipt.objects.select_related("merchant").filter(pk=receipt_id)
    if member is not None:
        queryset = queryset.filter(member=member)
    try:
        receipt = queryset.first()
    except ValueError as exc:
        raise ReceiptNotFoundError("receipt not found") from exc
    if receipt is None:
        raise ReceiptNotFoundError("receipt not found")
    return receipt


def channel_payments(
    *, method: str, since: dt.datetime, until: dt.datetime
) -> QuerySet[SalePayment]:
    """Payments by one channel (alipay, wechat) of sales that happened in [since, until)."""
    return (
        SalePayment.objects.filter(
            method=method, sale__occurred_at__gte=since, sale__occurred_at__lt=until
        )
        .select_related("sale")
        .order_by("sale__occurred_at", "id")
    )


def payments_by_trade_no(*, method: str, trade_nos: list[str]) -> QuerySet[SalePayment]:
    """Payments of a channel by its trade numbers (whatever day their sale happened)."""
    return SalePayment.objects.filter(method=method, trade_no__in=trade_nos).select_related("sale")


def channel_refunds(
    *, method: str, since: dt.datetime, until: dt.datetime
) -> list[tuple[Refund, str]]:
    """Refunds made in [since, until) of sales paid through a channel, with the channel's trade
    number of the sale's payment."""
    refunds = Refund.objects.filter(
        created_at__gte=since, created_at__lt=until, sale__payments__method=method
    ).distinct()
    trade_nos = dict(
        SalePayment.objects.filter(
            method=method, sale_id__in=refunds.values("sale_id")
        ).values_list("sale_id", "trade_no")
    )
    return [
        (refund, trade_nos.get(refund.sale_id, "")) for refund in refunds.order_by("created_at")
    ]


def refunds_by_trade(*, method: str, trade_nos: list[str]) -> dict[tuple[str, str], Refund]:
    """Refunds of sales paid by these channel trade numbers, by (trade no, refund id)."""
    payments = dict(
        SalePayment.objects.filter(method=method, trade_no__in=trade_nos).values_list(
            "sale_id", "trade_no"
        )
    )
    return {
        (payments[refund.sale_id], refund.refund_id): refund
        for refund in Refund.objects.filter(sale_id__in=list(payments))
    }
