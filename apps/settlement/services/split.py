"""Writing split lines: in the same transaction as the sale or refund they divide.

A sale's lines come from `splitting.plan_split` (sum exactly to the total). A refund of R from a
sale writes the exact negative of its share of each line: what is left of each allocating line
(the sale's line plus the refunds so far) divided in proportion to R with `allocate`, largest
remainder to the cent, so the refund's lines sum exactly to −R; the refund that empties the sale
takes exactly what is left of every line, so all refunds together negate the sale's lines. A
subsidy pair gives back `to_cny(left × R / left_total)` on both sides (still summing to zero).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.utils import timezone

from apps.sales.models import Refund, Sale
from apps.settlement.choices import LineKind
from apps.settlement.locks import lines_lock
from apps.settlement.models import SettlementCursor, SplitLine
from apps.settlement.splitting import Portion, plan_split, snapshot
from atrium.money import allocate, to_cny


class PaymentLike(Protocol):
    @property
    def method(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...


class ItemLike(Protocol):
    @property
    def category(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...


@dataclass(frozen=True)
class SaleToSplit:
    """A saved sale with what it was paid with and what it sold (None: read them back)."""

    sale: Sale
    payments: Sequence[PaymentLike] | None = None
    items: Sequence[ItemLike] | None = None
    campaign: str = ""


def settle_days(*, moments: Sequence[tuple[uuid.UUID, dt.datetime]]) -> list[dt.date]:
    """`selectors.settle_on` for many lines in one query (call under `lines_lock`)."""
    merchant_ids = {merchant_id for merchant_id, _ in moments}
    closed = dict(
        SettlementCursor.objects.filter(merchant_id__in=merchant_ids).values_list(
            "merchant_id", "closed_through"
        )
    )
    days = []
    for merchant_id, moment in moments:
        day = timezone.localdate(moment)
        through = closed.get(merchant_id)
        days.append(
            through + dt.timedelta(days=1) if through is not None and day <= through else day
        )
    return days


def _portions(sale: Sale, given: Sequence[PaymentLike] | None) -> list[Portion]:
    rows = given if given is not None else list(sale.payments.all())
    return [Portion(p.method, p.amount) for p in rows]


def _items(sale: Sale, given: Sequence[ItemLike] | None) -> list[Portion]:
    rows = given if given is not None else list(sale.items.all())
    return [Portion(i.category, i.amount) for i in rows]


def build_sale_lines(*, sales: Sequence[SaleToSplit]) -> list[SplitLine]:
    """The unsaved split lines of saved sales (call under `lines_lock` of their merchants)."""
    snap = snapshot()
    days = settle_days(moments=[(s.sale.merchant_id, s.sale.occurred_at) for s in sales])
    lines: list[SplitLine] = []
    for given, settle_on in zip(sales, days, strict=True):
        sale = given.sale
        planned_lines = plan_split(
            snap=snap,
            merchant_id=sale.merchant_id,
            business_format=sale.merchant.business_format,
            total=sale.total,
            payments=_portions(sale, given.payments),
            items=_items(sale, given.items),
            campaign=given.campaign,
            day=timezone.localdate(sale.occurred_at),
        )
        lines.extend(
            SplitLine(
                sale=sale,
                merchant_id=sale.merchant_id,
                party=planned.party,
                kind=planned.kind,
                amount=planned.amount,
                settle_on=settle_on,
                occurred_at=sale.occurred_at,
                rule_id=planned.rule_id,
                why=planned.why,
            )
            for planned in planned_lines
        )
    return lines


def write_sales_split(*, sales: Sequence[SaleToSplit]) -> list[SplitLine]:
    """Write the split lines of many saved sales with one insert (inside their transaction)."""
    if not sales:
        return []
    lines_lock(merchant_ids=[s.sale.merchant_id for s in sales])
    return SplitLine.objects.bulk_create(build_sale_lines(sales=sales))


def write_sale_split(
    *,
    sale: Sale,
    payments: Sequence[PaymentLike] | None = None,
    items: Sequence[ItemLike] | None = None,
    campaign: str = "",
) -> list[SplitLine]:
    """Write a saved sale's split lines, summing exactly to its total (inside its transaction)."""
    return write_sales_split(
        sales=[SaleToSplit(sale=sale, payments=payments, items=items, campaign=campaign)]
    )


def write_refund_split(*, refund: Refund, sale: Sale) -> list[SplitLine]:
    """Write a saved refund's lines: the exact negative of its share of the sale's lines.

    Call after the refund row is saved, before or after `sale.refunded_total` moves (it reads
    the lines themselves). A sale recorded before split lines existed gets none.
    """
    lines_lock(merchant_ids=[sale.merchant_id])
    left: dict[tuple[str, str, uuid.UUID | None, str], Decimal] = {}
    for party, kind, rule_id, why, amount in SplitLine.objects.filter(sale=sale).values_list(
        "party", "kind", "rule_id", "why", "amount"
    ):
        key = (party, kind, rule_id, why)
        left[key] = left.get(key, Decimal(0)) + amount
    allocating = [k for k in left if k[1] != LineKind.SUBSIDY and left[k] != 0]
    left_total = sum((left[k] for k in allocating), Decimal(0))
    if left_total <= 0:
        return []
    if refund.amount >= left_total:
        takes = [-left[k] for k in allocating]
        subsidy_takes = {k: -v for k, v in left.items() if k[1] == LineKind.SUBSIDY}
    else:
        takes = allocate(-refund.amount, [left[k] for k in allocating])
        subsidy_takes = {
            k: -to_cny(v * refund.amount / left_total)
            for k, v in left.items()
            if k[1] == LineKind.SUBSIDY
        }
    now = timezone.now()
    settle_on = settle_days(moments=[(sale.merchant_id, now)])[0]
    amounts = [*zip(allocating, takes, strict=True), *subsidy_takes.items()]
    return SplitLine.objects.bulk_create(
        SplitLine(
            sale=sale,
            refund=refund,
            merchant_id=sale.merchant_id,
            party=party,
            kind=kind,
            amount=amount,
            settle_on=settle_on,
            occurred_at=now,
            rule_id=rule_id,
            why=why,
        )
        for (party, kind, rule_id, why), amount in amounts
        if amount != 0
    )
