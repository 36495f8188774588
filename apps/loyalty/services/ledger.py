"""The points ledger: earn, redeem, expire, adjust, reverse, merge and forfeit, each an idempotent entry.

Every write locks the member's `PointsAccount` first (locks.py), then looks up its idempotency
key, so a retry that raced the first attempt waits and then finds the first result. Each entry
posts the member's change against one system account, so postings always sum to zero; earned
points become lots, and every consumption is recorded lot by lot (oldest expiry first).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from apps.loyalty import events, locks
from apps.loyalty.choices import EntryKind, LedgerAccount, LotSource
from apps.loyalty.errors import (
    InsufficientPointsError,
    InvalidPointsError,
    LedgerKeyConflictError,
)
from apps.loyalty.models import JournalEntry, LotMovement, PointsAccount, PointsLot, Posting
from apps.loyalty.selectors import program_settings
from apps.members.models import Member

MAX_POINTS_PER_ENTRY = 100_000_000


@dataclass(frozen=True)
class Consumption:
    lot: PointsLot
    amount: int


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day `months` later (the last day of the month when it has no such day)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise ValueError("unreachable")  # pragma: no cover - day 28 exists in every month


# `json.dumps` with these options builds a new encoder on every call: build it once.
_canonical = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False).encode


def _hash(**fields: Any) -> str:
    return hashlib.sha256(_canonical(fields).encode()).hexdigest()


def entry_hash(**fields: Any) -> str:
    """The request hash of a ledger write (its fields, canonical JSON, SHA-256)."""
    return _hash(**fields)


def check_points(points: int) -> None:
    """Raises InvalidPointsError unless `points` is a whole number in 1..MAX_POINTS_PER_ENTRY."""
    _check_points(points)


def _check_points(points: int) -> None:
    if (
        isinstance(points, bool)
        or not isinstance(points, int)
        or not 0 < points <= MAX_POINTS_PER_ENTRY
    ):
        raise InvalidPointsError("points must be a positive whole number", points=points)


def _replay(idempotency_key: str, request_hash: str) -> JournalEntry | None:
    done = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
    if done is not None and done.request_hash != request_hash:
        raise LedgerKeyConflictError(
            "this idempotency key was used for a different ledger write", key=idempotency_key
        )
    return done


def _entry(
    *,
    kind: str,
    member: Member,
    points: int,
    counter: str,
    idempotency_key: str,
    request_hash: str,
    reason: str = "",
    source_type: str = "",
    source_id: str = "",
    merchant_id: UUID | None = None,
    actor: str = "",
) -> JournalEntry:
    entry = JournalEntry.objects.create(
        kind=kind,
        member=member,
        points=points,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        reason=reason,
        source_type=source_type,
        source_id=source_id,
        merchant_id=merchant_id,
        actor=actor,
    )
    if points:
        Posting.objects.bulk_create(
            [
                Posting(entry=entry, account=LedgerAccount.MEMBER, member=member, amount=points),
                Posting(entry=entry, account=counter, member=None, amount=-points),
            ]
        )
    return entry


def _settle_account(account: PointsAccount, entry: JournalEntry) -> None:
    account.balance += entry.points
    account.save(update_fields=["balance", "updated_at"])
    events.publish(
        events.PointsChanged(
            member_id=str(account.member_id),
            entry_id=str(entry.pk),
            kind=entry.kind,
            points=entry.points,
            balance=account.balance,
        )
    )


def _consume(lots: Iterable[PointsLot], points: int, entry: JournalEntry) -> list[Consumption]:
    """Take `points` from the lots in the order given; record each lot's movement."""
    taken: list[Consumption] = []
    left = points
    for lot in lots:
        if left == 0:
            break
        amount = min(lot.remaining, left)
        if amount <= 0:
            continue
        lot.remaining -= amount
        left -= amount
        taken.append(Consumption(lot=lot, amount=amount))
    PointsLot.objects.bulk_update([c.lot for c in taken], ["remaining"])
    LotMovement.objects.bulk_create(
        [LotMovement(lot=c.lot, entry=entry, amount=-c.amount) for c in taken]
    )
    return taken


def _new_lot(
    *,
    member: Member,
    entry: JournalEntry,
    points: int,
    source: str,
    issuer_merchant_id: UUID | None,
    earned_at: dt.datetime,
    available_at: dt.datetime,
) -> PointsLot:
    settings = program_settings()
    lot = PointsLot.objects.create(
        member=member,
        entry=entry,
        source=source,
        issuer_merchant_id=issuer_merchant_id,
        original=points,
        remaining=points,
        earned_at=earned_at,
        available_at=available_at,
        expires_at=add_months(earned_at, settings.points_validity_months),
    )
    LotMovement.objects.create(lot=lot, entry=entry, amount=points)
    return lot


def spendable_lots(lots: Iterable[PointsLot], now: dt.datetime) -> list[PointsLot]:
    """Lots that may be spent now: past their return window and not yet expired."""
    return [lot for lot in lots if lot.available_at <= now < lot.expires_at]


@transaction.atomic(savepoint=False)  # hot path: no savepoint when nested
def earn_points(
    *,
    member: Member,
    points: int,
    idempotency_key: str,
    source: str = LotSource.SALE,
    source_type: str = "",
    source_id: str = "",
    issuer_merchant_id: UUID | None = None,
    reason: str = "",
    pending_days: int | None = None,
    now: dt.datetime | None = None,
    actor: str = "",
) -> JournalEntry:
    """Credit points as a new lot (pending for the return window when it is set).

    Opens no savepoint when nested (it is on every sale's path): a caller that catches its
    errors and carries on must wrap the call in its own `transaction.atomic()`.
    Raises InvalidPointsError, LedgerKeyConflictError.
    """
    _check_points(points)
    request_hash = _hash(
        op="earn", member=member.pk, points=points, source=source, type=source_type, id=source_id,
        issuer=issuer_merchant_id,
    )  # fmt: skip
    account = locks.points_account_for_update(member=member)
    if (done := _replay(idempotency_key, request_hash)) is not None:
        return done
    now = now or timezone.now()
    window = program_settings().pending_days if pending_days is None else pending_days
    entry = _entry(
        kind=EntryKind.EARN,
        member=member,
        points=points,
        counter=LedgerAccount.ISSUED,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        reason=reason,
        source_type=source_type,
        source_id=source_id,
        merchant_id=issuer_merchant_id,
        actor=actor,
    )
    _new_lot(
        member=member,
        entry=entry,
        points=points,
        source=source,
        issuer_merchant_id=issuer_merchant_id,
        earned_at=now,
        available_at=now + dt.timedelta(days=window),
    )
    _settle_account(account, entry)
    return entry


@transaction.atomic
def redeem_points(
    *,
    member: Member,
    points: int,
    idempotency_key: str,
    reason: str = "",
    merchant_id: UUID | None = None,
    source_type: str = "",
    source_id: str = "",
    now: dt.datetime | None = None,
    actor: str = "",
) -> JournalEntry:
    """Spend points from spendable lots, oldest expiry first.

    Raises InvalidPointsError, InsufficientPointsError, LedgerKeyConflictError.
    """
    _check_points(points)
    request_hash = _hash(
        op="redeem", member=member.pk, points=points, merchant=merchant_id, type=source_type,
        id=source_id,
    )  # fmt: skip
    account = locks.points_account_for_update(member=member)
    if (done := _replay(idempotency_key, request_hash)) is not None:
        return done
    lots = spendable_lots(locks.open_lots_for_update(member=member), now or timezone.now())
    spendable = sum(lot.remaining for lot in lots)
    if spendable < points:
        raise InsufficientPointsError(
            "not enough spendable points",
            spendable=spendable,
            balance=account.balance,
            requested=points,
        )
    entry = _entry(
        kind=EntryKind.REDEEM,
        member=member,
        points=-points,
        counter=LedgerAccount.REDEEMED,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        reason=reason,
        source_type=source_type,
        source_id=source_id,
        merchant_id=merchant_id,
        actor=actor,
    )
    _consume(lots, points, entry)
    _settle_account(account, entry)
    return entry


@transaction.atomic
def reverse_points(
    *,
    member: Member,
    points: int,
    idempotency_key: str,
    source_type: str,
    source_id: str,
    reason: str = "",
    actor: str = "",
) -> JournalEntry:
    """Take back points earned by a source (a refunded sale), never below what is left.

    The source's own lots go first (a refund inside the return window cancels its pending points
    outright), then the member's other lots, oldest expiry first. The entry records what could be
    taken back; it may be less than asked when the member already spent the points.
    Raises InvalidPointsError, LedgerKeyConflictError.
    """
    _check_points(points)
    request_hash = _hash(
        op="reverse", member=member.pk, points=points, type=source_type, id=source_id
    )
    account = locks.points_account_for_update(member=member)
    if (done := _replay(idempotency_key, request_hash)) is not None:
        return done
    lots = locks.open_lots_for_update(member=member)
    own_entries = set(
        JournalEntry.objects.filter(
            member=member, kind=EntryKind.EARN, source_type=source_type, source_id=source_id
        ).values_list("pk", flat=True)
    )
    ordered = [lot for lot in lots if lot.entry_id in own_entries] + [
        lot for lot in lots if lot.entry_id not in own_entries
    ]
    taken = min(points, account.balance)
    entry = _entry(
        kind=EntryKind.REVERSE,
        member=member,
        points=-taken,
        counter=LedgerAccount.REVERSED,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        reason=reason or f"requested {points}",
        source_type=source_type,
        source_id=source_id,
        actor=actor,
    )
    _consume(ordered, taken, entry)
    _settle_account(account, entry)
    return entry


@transaction.atomic
def forfeit_points(
    *, member: Member, idempotency_key: str, reason: str, actor: str = ""
) -> JournalEntry:
    """Forfeit every point the member holds (their account is closing), pending ones included.

    One balanced entry against the `forfeited` account closes every open lot and leaves the
    balance at 0; a retry with the same key returns that entry. Raises LedgerKeyConflictError.
    """
    request_hash = _hash(op="forfeit", member=member.pk)
    account = locks.points_account_for_update(member=member)
    if (done := _replay(idempotency_key, request_hash)) is not None:
        return done
    lots = locks.open_lots_for_update(member=member)
    held = sum(lot.remaining for lot in lots)
    entry = _entry(
        kind=EntryKind.FORFEIT,
        member=member,
        points=-held,
        counter=LedgerAccount.FORFEITED,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        reason=reason,
        actor=actor,
    )
    _consume(lots, held, entry)
    _settle_account(account, entry)
    return entry


@transaction.atomic
def adjust_points(
    *,
    member: Member,
    points: int,
    reason: str,
    idempotency_key: str,
    actor: str,
    now: dt.datetime | None = None,
) -> JournalEntry:
    """Apply an approved manual adjustment: a credit becomes a mall-issued lot, a debit consumes
    lots oldest expiry first. Raises InvalidPointsError, InsufficientPointsError."""
    if points == 0:
        raise InvalidPointsError("an adjustment must change the balance", points=points)
    _check_points(abs(points))
    request_hash = _hash(op="adjust", member=member.pk, points=points, reason=reason)
    account = locks.points_account_for_update(member=member)
    if (done := _replay(idempotency_key, request_hash)) is not None:
        return done
    now = now or timezone.now()
    lots = [] if points > 0 else locks.open_lots_for_update(member=member)
    if points < 0 and account.balance < -points:
        raise InsufficientPointsError(
            "the adjustment would make the balance negative",
            balance=account.balance,
            requested=points,
        )
    entry = _entry(
        kind=EntryKind.ADJUST,
        member=member,
        points=points,
        counter=LedgerAccount.ADJUSTED,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        reason=reason,
        actor=actor,
    )
    if points > 0:
        _new_lot(
            member=member, entry=entry, points=points, source=LotSource.ADJUSTMENT,
            issuer_merchant_id=None, earned_at=now, available_at=now,
        )  # fmt: skip
    else:
        _consume(lots, -points, entry)
    _settle_account(account, entry)
    return entry


def expire_due_lots(*, now: dt.datetime | None = None, limit: int = 10_000) -> int:
    """Expire every lot past its date, one entry per lot (re-runnable). Returns lots expired."""
    now = now or timezone.now()
    due = list(
        PointsLot.objects.filter(remaining__gt=0, expires_at__lte=now)
        .order_by("member_id", "expires_at")
        .values_list("pk", "member_id")[:limit]
    )
    for lot_id, member_id in due:
        _expire_lot(lot_id=lot_id, member_id=member_id)
    return len(due)


@transaction.atomic
def _expire_lot(*, lot_id: UUID, member_id: UUID) -> None:
    member = Member.objects.get(pk=member_id)
    account = locks.points_account_for_update(member=member)
    lot = PointsLot.objects.select_for_update().get(pk=lot_id)
    if lot.remaining == 0:
        return  # spent or expired by a concurrent run
    key = f"expire:{lot.pk}"
    entry = _entry(
        kind=EntryKind.EXPIRE,
        member=member,
        points=-lot.remaining,
        counter=LedgerAccount.EXPIRED,
        idempotency_key=key,
        request_hash=_hash(op="expire", lot=lot.pk),
        reason=f"lot earned {lot.earned_at:%Y-%m-%d} expired",
        merchant_id=lot.issuer_merchant_id,
    )
    _consume([lot], lot.remaining, entry)
    _settle_account(account, entry)


def remind_expiring_points(*, now: dt.datetime | None = None) -> int:
    """Announce, once per member and expiry day, the points that expire in N days (the
    program's reminder lead time). Returns the members reminded."""
    from django.core.cache import cache

    now = now or timezone.now()
    days = program_settings().expiry_reminder_days
    start = now + dt.timedelta(days=days)
    due = (
        PointsLot.objects.filter(
            remaining__gt=0, expires_at__gte=start, expires_at__lt=start + dt.timedelta(days=1)
        )
        .values("member_id")
        .annotate(points=Sum("remaining"))
    )
    reminded = 0
    for row in due:
        expires_on = start.date().isoformat()
        # The nightly job may run twice; the cache key (schema-prefixed) makes the reminder once.
        if not cache.add(f"expiry-reminder:{row['member_id']}:{expires_on}", 1, timeout=3 * 86400):
            continue
        with transaction.atomic():
            events.publish(
                events.PointsExpiring(
                    member_id=str(row["member_id"]),
                    points=int(row["points"]),
                    expires_on=expires_on,
                )
            )
        reminded += 1
    return reminded


@transaction.atomic
def merge_member_ledgers(*, source: Member, target: Member, idempotency_key: str) -> JournalEntry:
    """Move every open lot and the balance of `source` to `target` in one balanced entry.

    Lots keep their issuer and expiry; the source keeps its history and ends at zero.
    Raises InvalidPointsError when both are the same member.
    """
    from apps.loyalty.services.growth import move_growth

    if source.pk == target.pk:
        raise InvalidPointsError("cannot merge a member into itself")
    request_hash = _hash(op="merge", source=source.pk, target=target.pk)
    accounts = {a.member_id: a for a in locks.points_accounts_for_update(members=[source, target])}
    if (done := _replay(idempotency_key, request_hash)) is not None:
        return done
    source_account, target_account = accounts[source.pk], accounts[target.pk]
    moved = source_account.balance
    entry = JournalEntry.objects.create(
        kind=EntryKind.MERGE,
        member=target,
        points=moved,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        reason=f"merged from {source.member_no}",
        source_type="member",
        source_id=str(source.pk),
    )
    if moved:
        Posting.objects.bulk_create(
            [
                Posting(entry=entry, account=LedgerAccount.MEMBER, member=source, amount=-moved),
                Posting(entry=entry, account=LedgerAccount.MEMBER, member=target, amount=moved),
            ]
        )
    PointsLot.objects.filter(member=source, remaining__gt=0).update(member=target)
    source_account.balance = 0
    source_account.save(update_fields=["balance", "updated_at"])
    _settle_account(target_account, entry)
    move_growth(source=source, target=target, idempotency_key=f"{idempotency_key}:growth")
    return entry


@dataclass(frozen=True)
class LotReturn:
    """Points given back to the member for one consumed lot, and the lot that now holds them."""

    consumed_lot_id: UUID
    points: int
    lot: PointsLot


@transaction.atomic
def return_points(
    *,
    member: Member,
    returns: Sequence[tuple[UUID, int]],
    idempotency_key: str,
    source_type: str,
    source_id: str,
    reason: str = "",
    now: dt.datetime | None = None,
) -> tuple[JournalEntry, list[LotReturn]]:
    """Give back redeemed points (a refunded points payment): a `reverse` entry crediting the
    member against the redeemed account, each return a new lot carrying the consumed lot's
    source, issuer and earn/expiry dates, so it is funded and expires exactly as before (a
    returned lot already past its date expires at the next nightly run).

    Raises InvalidPointsError, LedgerKeyConflictError.
    """
    total = sum(points for _, points in returns)
    _check_points(total)
    if any(points <= 0 for _, points in returns):
        raise InvalidPointsError("each return must be positive")
    request_hash = _hash(
        op="return", member=member.pk, returns=[[str(lot), points] for lot, points in returns],
        type=source_type, id=source_id,
    )  # fmt: skip
    account = locks.points_account_for_update(member=member)
    if (done := _replay(idempotency_key, request_hash)) is not None:
        return done, []
    now = now or timezone.now()
    consumed = PointsLot.objects.in_bulk([lot for lot, _ in returns])
    entry = _entry(
        kind=EntryKind.REVERSE,
        member=member,
        points=total,
        counter=LedgerAccount.REDEEMED,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        reason=reason or "points payment refunded",
        source_type=source_type,
        source_id=source_id,
    )
    made: list[LotReturn] = []
    for lot_id, points in returns:
        original = consumed[lot_id]
        lot = PointsLot.objects.create(
            member=member,
            entry=entry,
            source=original.source,
            issuer_merchant_id=original.issuer_merchant_id,
            original=points,
            remaining=points,
            earned_at=original.earned_at,
            available_at=now,
            expires_at=original.expires_at,
        )
        made.append(LotReturn(consumed_lot_id=lot_id, points=points, lot=lot))
    LotMovement.objects.bulk_create(
        [LotMovement(lot=r.lot, entry=entry, amount=r.points) for r in made]
    )
    _settle_account(account, entry)
    return entry, made
