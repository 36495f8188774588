"""Settlement periods and statements: close, issue, confirm, dispute, resolve, pay.

A period close for merchant M over [start, end] follows the shared protocol (CONTRACT.md): take
`close_lock(M)` (no money line of M is being written until commit), aggregate M's split and
clearing lines with `settle_on` in [start, end], write the statement and its lines, and move
`SettlementCursor.closed_through` to `end`. A line written after that sees the cursor and rolls
into the next period, so a closed statement never changes.

Periods follow the cycle of the contract in force on the period's first day: daily (closed the
next day, T+1), weekly (ISO week, Monday to Sunday) or monthly (calendar month). Rent
(`rent_amount`, per month) is charged once a month, in the period that contains the 1st; the
guaranteed-minimum top-up is `max(0, minimum_amount - commission)` per period, commission net of
refunds. Net payable = Σ merchant-party split lines (shares and subsidies) + Σ clearing lines
- rent - top-up; negative means the merchant owes the mall.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from apps.clearing.models import ClearingLine
from apps.merchants.choices import ContractKind, PayoutMethod, SettlementCycle
from apps.merchants.models import Contract, Merchant
from apps.merchants.selectors import contract_in_force
from apps.sales.choices import PaymentMethod
from apps.sales.models import SalePayment
from apps.settlement import locks
from apps.settlement.choices import ALLOCATING_KINDS, LineKind, Party
from apps.settlement.models import SettlementCursor, SplitLine, Statement, StatementLine
from apps.settlement.statement_choices import LineSection, PayoutRoute, StatementStatus
from apps.settlement.statement_errors import (
    DisputeReasonRequiredError,
    PayoutRouteError,
    PeriodNotClosableError,
    StatementNotFoundError,
    StatementStateError,
)
from atrium import events
from atrium.events import DomainEvent
from integrations.alipay.client import royalty_capacity

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
AUTO_CONFIRMED_BY = "auto"


# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementChanged(DomainEvent):
    """A statement was closed, issued, confirmed, disputed, resolved or paid."""

    topic = "settlement.statement_changed"
    statement_id: str
    merchant_id: str
    status: str
    net_payable: str


def _announce(statement: Statement) -> None:
    events.publish(
        StatementChanged(
            statement_id=str(statement.pk),
            merchant_id=str(statement.merchant_id),
            status=statement.status,
            net_payable=str(statement.net_payable),
        )
    )


# --- periods ----------------------------------------------------------------------------------


def period_of(*, cycle: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """The period of `cycle` that contains `day`: (first day, last day)."""
    if cycle == SettlementCycle.DAILY:
        return day, day
    if cycle == SettlementCycle.WEEKLY:
        start = day - dt.timedelta(days=day.weekday())
        return start, start + dt.timedelta(days=6)
    start = day.replace(day=1)
    following = (start + dt.timedelta(days=32)).replace(day=1)
    return start, following - dt.timedelta(days=1)


@dataclass(frozen=True)
class DuePeriod:
    merchant: Merchant
    contract: Contract
    start: dt.date
    end: dt.date


def _first_open_day(merchant: Merchant) -> dt.date | None:
    cursor = SettlementCursor.objects.filter(merchant=merchant).first()
    if cursor is not None:
        return cursor.closed_through + dt.timedelta(days=1)
    # Never closed: from the earliest of its first contract and its first money line.
    candidates = [
        Contract.objects.filter(merchant=merchant).order_by("effective_from")
        .values_list("effective_from", flat=True).first(),
        SplitLine.objects.filter(merchant=merchant).order_by("settle_on")
        .values_list("settle_on", flat=True).first(),
        ClearingLine.objects.filter(merchant=merchant).order_by("settle_on")
        .values_list("settle_on", flat=True).first(),
    ]  # fmt: skip
    days = [d for d in candidates if d is not None]
    return min(days) if days else None


def next_due_period(*, merchant: Merchant, today: dt.date) -> DuePeriod | None:
    """The merchant's next period to close, if it ended before `today` (so a daily period closes
    on T+1), from the contract in force on its first day; None when nothing is due."""
    first = _first_open_day(merchant)
    if first is None:
        return None
    contract = contract_in_force(merchant=merchant, day=first)
    if contract is None:
        # Before any contract (lines of a merchant not yet signed): from its first contract on.
        contract = (
            Contract.objects.filter(merchant=merchant, effective_from__gt=first)
            .order_by("effective_from")
            .first()
        )
        if contract is None:
            return None
    _, end = period_of(cycle=contract.cycle, day=first)
    if end >= today:
        return None
    return DuePeriod(merchant=merchant, contract=contract, start=first, end=end)


# --- aggregation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineRow:
    """One aggregated statement line, before it is written."""

    section: str
    party: str
    kind: str
    amount: Decimal
    points: int
    count: int
    in_net: bool


_SPLIT_SQL = """
SELECT refund_id IS NOT NULL AS is_refund, party, kind, SUM(amount), COUNT(*)
FROM {table}
WHERE merchant_id = %s AND settle_on BETWEEN %s AND %s
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""
_CLEARING_SQL = """
SELECT role, SUM(amount), SUM(points), COUNT(*)
FROM {table}
WHERE merchant_id = %s AND settle_on BETWEEN %s AND %s
GROUP BY 1
ORDER BY 1
"""


def money_rows(*, merchant_id: uuid.UUID, start: dt.date, end: dt.date) -> list[LineRow]:
    """The merchant's split and clearing lines settled in [start, end], aggregated."""
    rows: list[LineRow] = []
    with connection.cursor() as cursor:
        cursor.execute(_SPLIT_SQL.format(table=SplitLine._meta.db_table), [merchant_id, start, end])
        for is_refund, party, kind, amount, count in cursor.fetchall():
            rows.append(
                LineRow(
                    section=LineSection.REFUND if is_refund else LineSection.SALE,
                    party=party, kind=kind, amount=amount, points=0, count=count,
                    in_net=party == Party.MERCHANT,
                )
            )  # fmt: skip
        cursor.execute(
            _CLEARING_SQL.format(table=ClearingLine._meta.db_table), [merchant_id, start, end]
        )
        for role, amount, points, count in cursor.fetchall():
            rows.append(
                LineRow(
                    section=LineSection.POINTS, party=Party.MERCHANT, kind=role, amount=amount,
                    points=int(points), count=count, in_net=True,
                )
            )  # fmt: skip
    return rows


def contract_rows(
    *, contract: Contract, start: dt.date, end: dt.date, commission: Decimal
) -> list[LineRow]:
    """Rent (once a month, in the period holding the 1st) and the guaranteed-minimum top-up."""
    rows: list[LineRow] = []
    charges_rent = contract.kind in {ContractKind.FIXED_RENT, ContractKind.RENT_PLUS_COMMISSION}
    months = _firsts_of_month(start, end)
    if charges_rent and contract.rent_amount > 0 and months:
        rows.append(
            LineRow(
                section=LineSection.RENT, party="", kind="rent",
                amount=-(contract.rent_amount * months), points=0, count=0, in_net=True,
            )
        )  # fmt: skip
    if contract.kind == ContractKind.GUARANTEED_MINIMUM:
        topup = max(ZERO, contract.minimum_amount - commission)
        if topup > 0:
            rows.append(
                LineRow(
                    section=LineSection.MINIMUM_TOPUP, party="", kind="minimum_topup",
                    amount=-topup, points=0, count=0, in_net=True,
                )
            )  # fmt: skip
    return rows


def _firsts_of_month(start: dt.date, end: dt.date) -> int:
    count = 0
    day = start if start.day == 1 else (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    while day <= end:
        count += 1
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return count


@dataclass(frozen=True)
class Totals:
    gross_sales: Decimal
    refunds: Decimal
    commission: Decimal
    channel_fees: Decimal
    platform_fees: Decimal
    subsidies: Decimal
    merchant_due: Decimal
    points_clearing: Decimal
    rent: Decimal
    minimum_topup: Decimal
    net_payable: Decimal
    line_count: int


def totals_of(rows: Iterable[LineRow | StatementLine]) -> Totals:
    """A statement's totals, each the sum of some of its lines (the one definition)."""
    rows = list(rows)

    def total(keep: object) -> Decimal:
        return sum((r.amount for r in rows if keep(r)), ZERO)  # type: ignore[operator]

    split = (LineSection.SALE, LineSection.REFUND)
    return Totals(
        gross_sales=total(lambda r: r.section == LineSection.SALE and r.kind in ALLOCATING_KINDS),
        refunds=total(lambda r: r.section == LineSection.REFUND and r.kind in ALLOCATING_KINDS),
        commission=total(lambda r: r.section in split and r.kind == LineKind.COMMISSION),
        channel_fees=total(lambda r: r.section in split and r.kind == LineKind.CHANNEL_FEE),
        platform_fees=total(lambda r: r.section in split and r.kind == LineKind.PLATFORM_FEE),
        subsidies=total(
            lambda r: (
                r.section in split and r.kind == LineKind.SUBSIDY and r.party == Party.MERCHANT
            )
        ),
        merchant_due=total(lambda r: r.section in split and r.party == Party.MERCHANT),
        points_clearing=total(lambda r: r.section == LineSection.POINTS),
        rent=-total(lambda r: r.section == LineSection.RENT),
        minimum_topup=-total(lambda r: r.section == LineSection.MINIMUM_TOPUP),
        net_payable=total(lambda r: r.in_net),
        line_count=sum(r.count for r in rows),
    )


# --- close ----------------------------------------------------------------------------------


def close_period(
    *, merchant: Merchant, start: dt.date, end: dt.date, contract: Contract, actor: str
) -> Statement:
    """Close [start, end] for the merchant: its statement (draft), and the cursor moved to `end`.

    Raises PeriodNotClosableError when the period does not start right after the last closed
    day (or is already closed).
    """
    with transaction.atomic():
        locks.close_lock(merchant_id=merchant.pk)
        cursor = SettlementCursor.objects.select_for_update().filter(merchant=merchant).first()
        if cursor is not None and cursor.closed_through + dt.timedelta(days=1) != start:
            raise PeriodNotClosableError(
                "the period does not follow the last closed one",
                closed_through=str(cursor.closed_through), start=str(start),
            )  # fmt: skip
        rows = money_rows(merchant_id=merchant.pk, start=start, end=end)
        commission = sum(
            (r.amount for r in rows if r.kind == LineKind.COMMISSION and r.section != "points"),
            ZERO,
        )
        rows += contract_rows(contract=contract, start=start, end=end, commission=commission)
        totals = totals_of(rows)
        statement = Statement.objects.create(
            number=f"ST-{start:%Y%m%d}-{merchant.pk.hex[:8].upper()}",
            merchant=merchant, contract=contract, contract_kind=contract.kind,
            cycle=contract.cycle, period_start=start, period_end=end, closed_by=actor,
            **_totals_fields(totals),
        )  # fmt: skip
        StatementLine.objects.bulk_create(
            StatementLine(
                statement=statement, position=index, section=r.section, party=r.party,
                kind=r.kind, amount=r.amount, points=r.points, count=r.count, in_net=r.in_net,
            )
            for index, r in enumerate(rows, start=1)
        )  # fmt: skip
        if cursor is None:
            SettlementCursor.objects.create(merchant=merchant, closed_through=end)
        else:
            cursor.closed_through = end
            cursor.save(update_fields=["closed_through", "updated_at"])
        _announce(statement)
    return statement


def _totals_fields(totals: Totals) -> dict[str, object]:
    return {
        "gross_sales": totals.gross_sales, "refunds": totals.refunds,
        "commission": totals.commission, "channel_fees": totals.channel_fees,
        "platform_fees": totals.platform_fees, "subsidies": totals.subsidies,
        "merchant_due": totals.merchant_due, "points_clearing": totals.points_clearing,
        "rent": totals.rent, "minimum_topup": totals.minimum_topup,
        "net_payable": totals.net_payable, "line_count": totals.line_count,
    }  # fmt: skip


def close_due_periods(
    *,
    today: dt.date,
    actor: str,
    merchants: Sequence[Merchant] | None = None,
    limit: int = 100_000,
    batch_size: int = 1000,
) -> list[Statement]:
    """Close every period that ended before `today`, oldest first, for every merchant (or the
    given ones); at most `limit` periods a run (the hourly job catches up on the next).

    Merchants whose next period is the same are closed together, `batch_size` at a time, in one
    transaction: every merchant's close lock, one aggregate over their lines, the statements,
    lines and cursors written in bulk. Used by the beat task and the console's close button.
    """
    pending = list(merchants) if merchants is not None else list(Merchant.objects.order_by("pk"))
    closed: list[Statement] = []
    while pending and len(closed) < limit:
        dues = _due_periods(pending, today=today)
        if not dues:
            break
        by_period: dict[tuple[dt.date, dt.date], list[DuePeriod]] = {}
        for due in dues:
            by_period.setdefault((due.start, due.end), []).append(due)
        for group in by_period.values():
            for index in range(0, len(group), batch_size):
                chunk = group[index : index + batch_size][: max(0, limit - len(closed))]
                if chunk:
                    closed.extend(close_periods(dues=chunk, actor=actor))
        pending = [due.merchant for due in dues]
    return closed


def _due_periods(merchants: Sequence[Merchant], *, today: dt.date) -> list[DuePeriod]:
    """`next_due_period` for many merchants in a few queries (cursors, contracts and, for
    merchants never closed, their first money line by index probe)."""
    ids = [m.pk for m in merchants]
    cursors = dict(
        SettlementCursor.objects.filter(merchant_id__in=ids).values_list(
            "merchant_id", "closed_through"
        )
    )
    contracts: dict[uuid.UUID, list[Contract]] = {}
    for version in Contract.objects.filter(merchant_id__in=ids).order_by(
        "merchant_id", "effective_from", "created_at"
    ):
        contracts.setdefault(version.merchant_id, []).append(version)
    never_closed = [m for m in ids if m not in cursors]
    first_lines: dict[uuid.UUID, dt.date | None] = {}
    if never_closed:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""SELECT m.id, LEAST(
                    (SELECT MIN(settle_on) FROM {SplitLine._meta.db_table} WHERE merchant_id = m.id),
                    (SELECT MIN(settle_on) FROM {ClearingLine._meta.db_table} WHERE merchant_id = m.id))
                FROM unnest(%s::uuid[]) AS m(id)""",  # noqa: S608 - table names from models
                [never_closed],
            )
            first_lines = dict(cursor.fetchall())
    dues = []
    for merchant in merchants:
        versions = contracts.get(merchant.pk)
        if not versions:
            continue
        if merchant.pk in cursors:
            first = cursors[merchant.pk] + dt.timedelta(days=1)
        else:
            candidates = [versions[0].effective_from, first_lines.get(merchant.pk)]
            first = min(d for d in candidates if d is not None)
        in_force = [
            c for c in versions
            if c.effective_from <= first and (c.effective_to is None or c.effective_to >= first)
        ]  # fmt: skip
        contract = (
            max(in_force, key=lambda c: (c.effective_from, c.created_at)) if in_force
            else next((c for c in versions if c.effective_from > first), None)
        )  # fmt: skip
        if contract is None:
            continue
        _, end = period_of(cycle=contract.cycle, day=first)
        if end < today:
            dues.append(DuePeriod(merchant=merchant, contract=contract, start=first, end=end))
    return dues


_BATCH_SPLIT_SQL = """
SELECT merchant_id, refund_id IS NOT NULL AS is_refund, party, kind, SUM(amount), COUNT(*)
FROM {table}
WHERE merchant_id = ANY(%s::uuid[]) AND settle_on BETWEEN %s AND %s
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
"""
_BATCH_CLEARING_SQL = """
SELECT merchant_id, role, SUM(amount), SUM(points), COUNT(*)
FROM {table}
WHERE merchant_id = ANY(%s::uuid[]) AND settle_on BETWEEN %s AND %s
GROUP BY 1, 2
ORDER BY 1, 2
"""


def close_periods(*, dues: Sequence[DuePeriod], actor: str) -> list[Statement]:
    """Close one period, the same [start, end], for several merchants in one transaction (the
    protocol of `close_period`, with one aggregate for all of them).

    Raises PeriodNotClosableError (nothing is closed then).
    """
    if not dues:
        return []
    start, end = dues[0].start, dues[0].end
    if any((d.start, d.end) != (start, end) for d in dues):
        raise PeriodNotClosableError("a batch closes one period")
    ids = [d.merchant.pk for d in dues]
    with transaction.atomic():
        locks.close_locks(merchant_ids=ids)
        cursors = {
            c.merchant_id: c
            for c in SettlementCursor.objects.select_for_update().filter(merchant_id__in=ids)
        }
        for merchant_id, held in cursors.items():
            if held.closed_through + dt.timedelta(days=1) != start:
                raise PeriodNotClosableError(
                    "the period does not follow the last closed one",
                    closed_through=str(held.closed_through), start=str(start),
                    merchant_id=str(merchant_id),
                )  # fmt: skip
        rows: dict[uuid.UUID, list[LineRow]] = {m: [] for m in ids}
        with connection.cursor() as cursor:
            cursor.execute(
                _BATCH_SPLIT_SQL.format(table=SplitLine._meta.db_table), [ids, start, end]
            )
            for merchant_id, is_refund, party, kind, amount, count in cursor.fetchall():
                rows[merchant_id].append(
                    LineRow(
                        section=LineSection.REFUND if is_refund else LineSection.SALE,
                        party=party, kind=kind, amount=amount, points=0, count=count,
                        in_net=party == Party.MERCHANT,
                    )
                )  # fmt: skip
            cursor.execute(
                _BATCH_CLEARING_SQL.format(table=ClearingLine._meta.db_table), [ids, start, end]
            )
            for merchant_id, role, amount, points, count in cursor.fetchall():
                rows[merchant_id].append(
                    LineRow(
                        section=LineSection.POINTS, party=Party.MERCHANT, kind=role,
                        amount=amount, points=int(points), count=count, in_net=True,
                    )
                )  # fmt: skip
        statements: list[Statement] = []
        lines: list[StatementLine] = []
        for due in dues:
            merchant_rows = rows[due.merchant.pk]
            commission = sum(
                (r.amount for r in merchant_rows if r.kind == LineKind.COMMISSION), ZERO
            )
            merchant_rows += contract_rows(
                contract=due.contract, start=start, end=end, commission=commission
            )
            statement = Statement(
                number=f"ST-{start:%Y%m%d}-{due.merchant.pk.hex[:8].upper()}",
                merchant=due.merchant, contract=due.contract, contract_kind=due.contract.kind,
                cycle=due.contract.cycle, period_start=start, period_end=end, closed_by=actor,
                **_totals_fields(totals_of(merchant_rows)),
            )  # fmt: skip
            statements.append(statement)
            lines.extend(
                StatementLine(
                    statement=statement, position=index, section=r.section, party=r.party,
                    kind=r.kind, amount=r.amount, points=r.points, count=r.count, in_net=r.in_net,
                )
                for index, r in enumerate(merchant_rows, start=1)
            )  # fmt: skip
        Statement.objects.bulk_create(statements)
        StatementLine.objects.bulk_create(lines, batch_size=2000)
        now = timezone.now()
        for held in cursors.values():
            held.closed_through, held.updated_at = end, now
        SettlementCursor.objects.bulk_update(
            list(cursors.values()), ["closed_through", "updated_at"]
        )
        SettlementCursor.objects.bulk_create(
            [SettlementCursor(merchant_id=m, closed_through=end) for m in ids if m not in cursors]
        )
        for statement in statements:
            _announce(statement)
    return statements


# --- state changes ----------------------------------------------------------------------------


def _locked(statement_id: uuid.UUID, *, merchant: Merchant | None = None) -> Statement:
    query = Statement.objects.select_for_update().filter(pk=statement_id)
    if merchant is not None:
        query = query.filter(merchant=merchant)
    statement = query.first()
    if statement is None:
        raise StatementNotFoundError("no such statement", statement_id=str(statement_id))
    return statement


def _require(statement: Statement, *allowed: str) -> None:
    if statement.status not in allowed:
        raise StatementStateError(
            f"the statement is {statement.status}", status=statement.status,
            allowed=sorted(allowed),
        )  # fmt: skip


def alipay_capacity(*, statement: Statement) -> Decimal:
    """What the rail can carry for this statement: the royalty share of the merchant's Alipay
    payments in the period."""
    amounts = _alipay_payments(statement).values_list("amount", flat=True)
    return royalty_capacity(amounts)


def _alipay_payments(statement: Statement) -> QuerySet[SalePayment]:
    tz = timezone.get_current_timezone()
    since = dt.datetime.combine(statement.period_start, dt.time.min, tzinfo=tz)
    until = dt.datetime.combine(statement.period_end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return SalePayment.objects.filter(
        sale__merchant_id=statement.merchant_id, method=PaymentMethod.ALIPAY,
        sale__occurred_at__gte=since, sale__occurred_at__lt=until,
    ).exclude(trade_no="").order_by("sale__occurred_at", "pk")  # fmt: skip


def payout_route(*, statement: Statement) -> str:
    """The rail when the contract pays by Alipay and the rail can carry the whole net payable;
    the bank file otherwise; none when nothing is payable."""
    if statement.net_payable <= 0:
        return PayoutRoute.NONE
    contract = statement.contract
    if contract.payout_method == PayoutMethod.ALIPAY and statement.net_payable <= alipay_capacity(
        statement=statement
    ):
        return PayoutRoute.ALIPAY
    return PayoutRoute.BANK


def issue_statements(*, statement_ids: Sequence[uuid.UUID], actor: str) -> list[Statement]:
    """Issue drafts to their merchants, deciding each one's payout route.

    Raises StatementNotFoundError, StatementStateError (nothing is issued then).
    """
    issued: list[Statement] = []
    with transaction.atomic():
        for statement_id in sorted(set(statement_ids)):
            statement = _locked(statement_id)
            _require(statement, StatementStatus.DRAFT)
            statement.status = StatementStatus.ISSUED
            statement.issued_at = timezone.now()
            statement.issued_by = actor
            statement.payout_route = payout_route(statement=statement)
            statement.save(update_fields=["status", "issued_at", "issued_by", "payout_route"])
            _announce(statement)
            issued.append(statement)
    return issued


def confirm_statement(*, merchant: Merchant, statement_id: uuid.UUID, actor: str) -> Statement:
    """The merchant agrees with an issued statement. Raises StatementNotFoundError (also for
    another merchant's statement), StatementStateError."""
    with transaction.atomic():
        statement = _locked(statement_id, merchant=merchant)
        _require(statement, StatementStatus.ISSUED)
        statement.status = StatementStatus.CONFIRMED
        statement.confirmed_at = timezone.now()
        statement.confirmed_by = actor
        statement.save(update_fields=["status", "confirmed_at", "confirmed_by"])
        _announce(statement)
    return statement


def dispute_statement(
    *, merchant: Merchant, statement_id: uuid.UUID, reason: str, actor: str
) -> Statement:
    """The merchant disagrees with an issued statement, saying why. Raises
    DisputeReasonRequiredError, StatementNotFoundError, StatementStateError."""
    reason = reason.strip()
    if not reason:
        raise DisputeReasonRequiredError("say what is wrong with the statement")
    with transaction.atomic():
        statement = _locked(statement_id, merchant=merchant)
        _require(statement, StatementStatus.ISSUED)
        statement.status = StatementStatus.DISPUTED
        statement.disputed_at = timezone.now()
        statement.disputed_by = actor
        statement.dispute_reason = reason[:500]
        statement.save(update_fields=["status", "disputed_at", "disputed_by", "dispute_reason"])
        _announce(statement)
    return statement


def resolve_dispute(*, statement_id: uuid.UUID, resolution: str, actor: str) -> Statement:
    """Finance answers a dispute; the statement stands (corrections are money lines, which land
    in the next open period) and counts as confirmed. Raises DisputeReasonRequiredError,
    StatementNotFoundError, StatementStateError."""
    resolution = resolution.strip()
    if not resolution:
        raise DisputeReasonRequiredError("say how the dispute was resolved")
    with transaction.atomic():
        statement = _locked(statement_id)
        _require(statement, StatementStatus.DISPUTED)
        now = timezone.now()
        statement.status = StatementStatus.CONFIRMED
        statement.resolved_at = now
        statement.resolved_by = actor
        statement.resolution = resolution[:500]
        statement.confirmed_at = now
        statement.confirmed_by = actor
        statement.save(
            update_fields=[
                "status", "resolved_at", "resolved_by", "resolution", "confirmed_at",
                "confirmed_by",
            ]
        )  # fmt: skip
        _announce(statement)
    return statement


def auto_confirm_statements(*, now: dt.datetime, after_days: int) -> int:
    """Confirm statements issued more than `after_days` ago that the merchant left unanswered."""
    count = 0
    cutoff = now - dt.timedelta(days=after_days)
    due = Statement.objects.filter(status=StatementStatus.ISSUED, issued_at__lte=cutoff)
    for statement_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            statement = _locked(statement_id)
            if statement.status != StatementStatus.ISSUED:
                continue
            statement.status = StatementStatus.CONFIRMED
            statement.confirmed_at = now
            statement.confirmed_by = AUTO_CONFIRMED_BY
            statement.save(update_fields=["status", "confirmed_at", "confirmed_by"])
            _announce(statement)
            count += 1
    return count


def record_payout(
    *, statement_id: uuid.UUID, reference: str, actor: str, route: str | None = None
) -> Statement:
    """Record that a confirmed statement was paid (the bank's or the rail's reference).

    Raises StatementNotFoundError, StatementStateError, PayoutRouteError, InvalidInputError.
    """
    reference = reference.strip()
    if not reference:
        raise DisputeReasonRequiredError("a payout needs its reference")
    with transaction.atomic():
        statement = _locked(statement_id)
        _require(statement, StatementStatus.CONFIRMED)
        if route is not None and route != statement.payout_route:
            raise PayoutRouteError(
                "the statement is paid another way", route=statement.payout_route
            )
        statement.status = StatementStatus.PAID
        statement.paid_at = timezone.now()
        statement.paid_by = actor
        statement.payout_reference = reference[:100]
        statement.save(update_fields=["status", "paid_at", "paid_by", "payout_reference"])
        _announce(statement)
    return statement


def merchant_totals(*, merchant_id: uuid.UUID, start: dt.date, end: dt.date) -> dict[str, Decimal]:
    """Σ of the merchant's money lines by source, for checks (no cent appears or vanishes)."""
    split = SplitLine.objects.filter(merchant_id=merchant_id, settle_on__range=(start, end))
    clearing = ClearingLine.objects.filter(merchant_id=merchant_id, settle_on__range=(start, end))
    return {
        "merchant_split": split.filter(party=Party.MERCHANT).aggregate(s=Sum("amount"))["s"]
        or ZERO,
        "all_split": split.aggregate(s=Sum("amount"))["s"] or ZERO,
        "clearing": clearing.aggregate(s=Sum("amount"))["s"] or ZERO,
    }
