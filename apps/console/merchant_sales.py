"""Reads of the merchant portal's sales screen: today's sales of one merchant with their split
lines, the day's totals, and one sale's row for the live update. Every read takes `merchant=`
(the signed-in account's merchant), so another merchant's sales are never found."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone

from apps.clearing import selectors as clearing_selectors
from apps.merchants.models import Merchant
from apps.sales.models import Sale
from apps.sales.selectors import list_sales
from apps.settlement.choices import LineKind
from apps.settlement.models import SplitLine

ZERO = Decimal("0.00")


def mask_member_no(member_no: str) -> str:
    """A member number with all but its last four characters hidden (`****5678`)."""
    return "****" + member_no[-4:] if member_no else ""


@dataclass(frozen=True)
class SaleRow:
    sale: Sale
    member: str  # masked member number, "" for a sale without a member
    lines: list[SplitLine]


@dataclass(frozen=True)
class SalesDay:
    day: dt.date
    rows: list[SaleRow]
    count: int
    gross: Decimal
    refunded: Decimal
    merchant_share: Decimal
    commission: Decimal
    fees: Decimal
    points_issued: int
    points_accepted: int


def _rows(merchant: Merchant, sales: list[Sale]) -> list[SaleRow]:
    lines: dict[uuid.UUID, list[SplitLine]] = defaultdict(list)
    for line in (
        SplitLine.objects.filter(merchant=merchant, sale_id__in=[s.pk for s in sales])
        .select_related("refund")
        .order_by("refund__created_at", "party", "kind", "id")
    ):
        lines[line.sale_id].append(line)
    return [
        SaleRow(
            sale=sale,
            member=mask_member_no(sale.member.member_no) if sale.member else "",
            lines=lines[sale.pk],
        )
        for sale in sales
    ]


def _today_bounds() -> tuple[dt.date, dt.datetime]:
    now = timezone.localtime()
    return now.date(), now.replace(hour=0, minute=0, second=0, microsecond=0)


def merchant_sales_day(*, merchant: Merchant, limit: int = 200) -> SalesDay:
    """This merchant's sales since local midnight, newest first, with their split lines (refund
    lines included) and the day's totals; points issued and accepted from the clearing."""
    day, since = _today_bounds()
    sales = list_sales(merchant=merchant, since=since)
    totals = sales.aggregate(count=Count("pk"), gross=Sum("total"), refunded=Sum("refunded_total"))
    by_kind: dict[str, Decimal] = {
        row["kind"]: row["amount"]
        for row in SplitLine.objects.filter(merchant=merchant, sale__in=sales.order_by())
        .order_by()
        .values("kind")
        .annotate(amount=Sum("amount"))
    }
    position = clearing_selectors.merchant_position(merchant=merchant, start=day, end=day)
    return SalesDay(
        day=day,
        rows=_rows(merchant, list(sales.select_related("member")[:limit])),
        count=totals["count"] or 0,
        gross=totals["gross"] or ZERO,
        refunded=totals["refunded"] or ZERO,
        merchant_share=by_kind.get(LineKind.MERCHANT_SHARE, ZERO),
        commission=by_kind.get(LineKind.COMMISSION, ZERO),
        fees=by_kind.get(LineKind.CHANNEL_FEE, ZERO) + by_kind.get(LineKind.PLATFORM_FEE, ZERO),
        points_issued=position.points_issued,
        points_accepted=position.points_accepted,
    )


def merchant_sale_row(*, merchant: Merchant, sale_id: uuid.UUID) -> SaleRow | None:
    """One sale of this merchant as the sales screen shows it; None for another merchant's."""
    sale = Sale.objects.filter(merchant=merchant, pk=sale_id).select_related("member").first()
    return None if sale is None else _rows(merchant, [sale])[0]
