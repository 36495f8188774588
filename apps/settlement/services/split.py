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
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from django.utils import timezone

from apps.sales.models import Refund, Sale
from apps.settlement.choices import LineKind
from apps.settlement.locks import lines_lock, lines_lock_statement
from apps.settlement.models import SettlementCursor, SplitLine
from apps.settlement.splitting import Portion, plan_split, snapshot
from atrium.ids import uuid4_strings
from atrium.money import allocate, to_cny
from atrium.sql import Statement, insert_rows


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


def cursor_statements(merchant_ids: Sequence[uuid.UUID]) -> list[Statement]:
    """The lines lock of these merchants, then their cursors (merchant id, closed through):
    run together (`atrium.sql.run_statements`) before writing their lines, the second one's rows
    go to `closed_through`."""
    return [
        lines_lock_statement(merchant_ids=merchant_ids),
        Statement(
            f"SELECT merchant_id, closed_through FROM {SettlementCursor._meta.db_table} "  # noqa: S608
            "WHERE merchant_id = ANY(%(m)s::uuid[])",
            {"m": sorted(set(merchant_ids))},
        ),
    ]


def _settle_day(
    closed: Mapping[uuid.UUID, dt.date],
    merchant_id: uuid.UUID,
    moment: dt.datetime,
    zone: dt.tzinfo,
) -> dt.date:
    day = timezone.localdate(moment, zone)
    through = closed.get(merchant_id)
    return through + dt.timedelta(days=1) if through is not None and day <= through else day


def settle_days(*, moments: Sequence[tuple[uuid.UUID, dt.datetime]]) -> list[dt.date]:
    """`selectors.settle_on` for many lines in one query (call under `lines_lock`)."""
    merchant_ids = {merchant_id for merchant_id, _ in moments}
    closed = dict(
        SettlementCursor.objects.filter(merchant_id__in=merchant_ids).values_list(
            "merchant_id", "closed_through"
        )
    )
    zone = timezone.get_current_timezone()
    return [_settle_day(closed, merchant_id, moment, zone) for merchant_id, moment in moments]


def _portions(sale: Sale, given: Sequence[PaymentLike] | None) -> list[Portion]:
    rows = given if given is not None else list(sale.payments.all())
    return [Portion(p.method, p.amount) for p in rows]


def _items(sale: Sale, given: Sequence[ItemLike] | None) -> list[Portion]:
    rows = given if given is not None else list(sale.items.all())
    return [Portion(i.category, i.amount) for i in rows]


_LINE_COLUMNS = (
    "id", "sale_id", "merchant_id", "party", "kind", "amount", "settle_on", "occurred_at",
    "rule_id", "why", "created_at",
)  # fmt: skip


@dataclass(frozen=True)
class PlannedSplit:
    """Sales' split lines worked out, waiting for their merchants' cursors (`cursor_statements`)
    to date them: plan before taking locks, write with `fragment` under them."""

    # id, sale, merchant, party, kind, amount, at, rule, why (the line's and sale's ids as text)
    rows: tuple[tuple[Any, ...], ...]

    def dated(self, closed_through: Mapping[uuid.UUID, dt.date]) -> list[tuple[Any, ...]]:
        """The rows with their settlement day, in `_LINE_COLUMNS` order but `created_at`."""
        days: dict[tuple[uuid.UUID, dt.datetime], dt.date] = {}
        dated = []
        zone = timezone.get_current_timezone()  # once: it is read from a context-local
        for line_id, sale_id, merchant_id, party, kind, amount, at, rule_id, why in self.rows:
            day = days.get((merchant_id, at))
            if day is None:
                day = days[(merchant_id, at)] = _settle_day(closed_through, merchant_id, at, zone)
            dated.append(
                (line_id, sale_id, merchant_id, party, kind, amount, day, at, rule_id, why)
            )
        return dated

    def without(self, sale_ids: Set[str]) -> PlannedSplit:
        """The lines of the other sales (`sale_ids` as text)."""
        return PlannedSplit(tuple(row for row in self.rows if row[1] not in sale_ids))

    def fragment(self, closed_through: Mapping[uuid.UUID, dt.date]) -> Statement | None:
        """The lines as one insert for `atrium.sql.write_together` (None for no line), under
        the lines lock whose cursors are `closed_through`."""
        return _lines_fragment(self.dated(closed_through), timezone.now())


def plan_sales_split(*, sales: Sequence[SaleToSplit]) -> PlannedSplit:
    """The split lines of sales (saved or about to be), not yet dated: needs no lock."""
    snap = snapshot()
    zone = timezone.get_current_timezone()  # once: it is read from a context-local
    lines: list[tuple[Any, ...]] = []
    for given in sales:
        sale = given.sale
        sale_id = str(sale.pk)  # once per sale, not once per line when encoded
        planned_lines = plan_split(
            snap=snap,
            merchant_id=sale.merchant_id,
            business_format=sale.merchant.business_format,
            total=sale.total,
            payments=_portions(sale, given.payments),
            items=_items(sale, given.items),
            campaign=given.campaign,
            day=timezone.localdate(sale.occurred_at, zone),
        )
        lines.extend(
            (sale_id, sale.merchant_id, planned.party, planned.kind, planned.amount,
             sale.occurred_at, planned.rule_id, planned.why)
            for planned in planned_lines
        )  # fmt: skip
    ids = uuid4_strings(len(lines))
    return PlannedSplit(tuple((line_id, *line) for line_id, line in zip(ids, lines, strict=True)))


def _lines_fragment(rows: Sequence[tuple[Any, ...]], now: dt.datetime) -> Statement | None:
    if not rows:
        return None
    at = now.isoformat()  # once, not once per row
    return insert_rows(SplitLine._meta.db_table, _LINE_COLUMNS, [(*row, at) for row in rows])


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
