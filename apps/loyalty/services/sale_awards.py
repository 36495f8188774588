"""Set-based sale awards: the points and growth of many sales in a handful of statements.

The one writer of a sale's award (`award_sales`): `record_sale` calls it for one sale, the POS
batch endpoint for up to 500. It does exactly what `ledger.earn_points` and
`growth.add_growth` do one sale at a time (a journal entry with two postings, a lot issued by the
sale's merchant with its movement, a growth entry, the tier set on a member's first sale and
raised the moment the window's growth reaches a threshold, with a `TierChange` row and events),
but in raw SQL and without ORM model building: every member's account locked in one
statement (primary-key order, so concurrent batches cannot deadlock), the day-cap and window
sums read in one more, and every row written by one multi-CTE statement. See
docs/adr/0015-set-based-sale-writer.md. Sales of the same member are applied in the order given.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.loyalty import events
from apps.loyalty.choices import EntryKind, LedgerAccount, LotSource, RuleKind
from apps.loyalty.models import (
    GrowthEntry,
    JournalEntry,
    LotMovement,
    PointsAccount,
    PointsLot,
    Posting,
    Tier,
    TierChange,
)
from apps.loyalty.selectors import cached_rules_in_force, program_settings
from apps.loyalty.selectors import tiers_by_rank as cached_tiers
from apps.loyalty.services.earning import EarnQuote, SaleFacts, local_day, quote_sale
from apps.loyalty.services.growth import window_start
from apps.loyalty.services.ledger import add_months, check_points, entry_hash
from atrium.events import DomainEvent
from atrium.ids import uuid4_strings
from atrium.sql import (
    Draft,
    Statement,
    insert_draft,
    json_rows,
    pg_array,
    run_statements,
    write_together,
)


@dataclass(frozen=True)
class SaleToAward:
    member_id: uuid.UUID
    sale_id: str
    facts: SaleFacts
    idempotency_key: str  # the entry keys are `<key>:points` and `<key>:growth`


@dataclass(frozen=True)
class Awarded:
    points: int
    growth: int
    balance: int
    tier: str | None
    entry_id: str | None
    quote: EarnQuote
    events: tuple[DomainEvent, ...]  # to publish in the same transaction, in this order


@dataclass
class _Account:
    balance: int
    growth: int
    tier: Tier | None
    window: int = 0  # growth inside the tier window (read only when an upgrade is possible)
    earned: dict[dt.date, int] = field(default_factory=dict)  # points earned per local day
    tier_changed_at: dt.datetime | None = None


@dataclass
class _Rows:
    """The rows one call writes, column by column (one array per column)."""

    entries: list[tuple[Any, ...]] = field(default_factory=list)
    postings: list[tuple[Any, ...]] = field(default_factory=list)
    lots: list[tuple[Any, ...]] = field(default_factory=list)
    growth: list[tuple[Any, ...]] = field(default_factory=list)
    tier_changes: list[tuple[Any, ...]] = field(default_factory=list)


def account_lock_statements(
    member_ids: Sequence[str], *, create: bool = True, lock: bool = True, skip_locked: bool = False
) -> list[Statement]:
    """The two statements that lock the members' accounts, creating missing ones first, both in
    primary-key order; run them together (`atrium.sql.run_statements`), the last one's rows go
    to `LockedAccounts`. With `lock=False` the last one only reads them (`speculate_awards`);
    with `create=False` (an earlier read created them) it comes alone; with `skip_locked` it
    locks the accounts no other transaction holds and leaves the others out of its rows.

    Two statements, so that every lock is taken in key order: the missing accounts are inserted
    (waiting for a concurrent creator of the same account to finish), then all of them are
    locked by a scan that sees every committed one. Locking the existing accounts first and
    creating the others after, or locking late arrivals afterwards, deadlocks batches that
    share new members (tests/apps/sales/test_concurrency.py).
    """
    table = PointsAccount._meta.db_table
    ids = pg_array(sorted(set(member_ids)))
    statements = [
        Statement(
            f"INSERT INTO {table} (member_id, balance, growth, updated_at) "  # noqa: S608 - names only
            "SELECT m, 0, 0, now() FROM unnest(%(m)s::uuid[]) AS m ORDER BY m "
            "ON CONFLICT (member_id) DO NOTHING",
            {"m": ids},
        ),
        # xmin: the row's version (the transaction that wrote it), to tell whether a row read
        # before the lock is still the row locked (`settle_awards`).
        Statement(
            f"SELECT member_id::text, balance, growth, tier_id, xmin::text FROM {table} "  # noqa: S608
            "WHERE member_id = ANY(%(m)s::uuid[]) ORDER BY member_id"
            + (" FOR UPDATE" if lock else "")
            + (" SKIP LOCKED" if lock and skip_locked else ""),
            {"m": ids},
            prepare=False,  # planned for the table's current size (see `atrium.sql.Statement`)
        ),
    ]
    return statements if create else statements[1:]


@dataclass(frozen=True)
class LockedAccounts:
    """The accounts' rows (member id, balance, growth, tier id, row version), as the lock (or
    an unlocked read, for `speculate_awards`) read them."""

    rows: tuple[tuple[str, int, int, int | None, str], ...]


def _accounts(locked: LockedAccounts, tiers: dict[int, Tier]) -> dict[str, _Account]:
    return {
        member: _Account(balance, growth, tiers.get(tier_id) if tier_id is not None else None)
        for member, balance, growth, tier_id, _version in locked.rows
    }


def lock_accounts(member_ids: Sequence[str]) -> LockedAccounts:
    """Lock the members' accounts (`account_lock_statements`) in one round trip."""
    rows = run_statements(account_lock_statements(member_ids))[1]
    return LockedAccounts(tuple((str(m), int(b), int(g), t, v) for m, b, g, t, v in rows))


def _read_sums(
    accounts: dict[str, _Account],
    *,
    capped_days: set[dt.date],
    window_for: list[str],
    since: dt.datetime,
) -> None:
    """Points earned from sales per local day (only for days with a day cap) and the growth in
    the tier window (only for members who might move up), read after the accounts are locked."""
    members = list(accounts)
    zone = ZoneInfo(settings.TIME_ZONE)
    with connection.cursor() as cursor:
        if capped_days:
            start = min(dt.datetime.combine(d, dt.time.min, tzinfo=zone) for d in capped_days)
            end = max(dt.datetime.combine(d, dt.time.min, tzinfo=zone) for d in capped_days)
            cursor.execute(
                f"SELECT member_id::text, (created_at AT TIME ZONE %s)::date, sum(points) "  # noqa: S608
                f"FROM {JournalEntry._meta.db_table} WHERE member_id = ANY(%s::uuid[]) "
                "AND kind = %s AND source_type = 'sale' AND created_at >= %s AND created_at < %s "
                "GROUP BY 1, 2",
                [settings.TIME_ZONE, members, EntryKind.EARN, start, end + dt.timedelta(days=1)],
            )
            for member, day, points in cursor.fetchall():
                accounts[member].earned[day] = int(points)
        if window_for:
            cursor.execute(
                f"SELECT member_id::text, sum(delta) FROM {GrowthEntry._meta.db_table} "  # noqa: S608
                "WHERE member_id = ANY(%s::uuid[]) AND created_at >= %s GROUP BY 1",
                [window_for, since],
            )
            for member, total in cursor.fetchall():
                accounts[member].window = int(total)


def _change_tier(
    rows: _Rows,
    published: list[DomainEvent],
    member: str,
    account: _Account,
    tier: Tier,
    *,
    reason: str,
    growth: int,
    at: dt.datetime,
) -> None:
    previous = account.tier
    rows.tier_changes.append((member, previous.pk if previous else None, tier.pk, reason, growth))
    account.tier = tier
    account.tier_changed_at = at
    published.append(
        events.TierChanged(
            member_id=member,
            from_tier=previous.code if previous else None,
            to_tier=tier.code,
            reason=reason,
        )
    )


def lock_award_accounts(*, member_ids: Sequence[str]) -> None:
    """Lock the members' accounts the way `award_sales` does (creating missing ones, in key
    order), for a caller that writes to some of them before the awards (a points payment's
    redemption): with every account of the batch held first, the later locks are re-entrant and
    concurrent batches keep one lock order. Call inside `transaction.atomic`."""
    assert connection.in_atomic_block  # noqa: S101 - a caller bug, not input
    if member_ids:
        lock_accounts(member_ids)


def award_sales(awards: Sequence[SaleToAward], *, now: dt.datetime | None = None) -> list[Awarded]:
    """Credit each sale's points (a lot issued by its merchant) and growth, in the order given.

    Call inside `transaction.atomic`, with every sale new (its caller holds the sale-key lock
    and checked there is no such sale): the entry keys' unique constraints are the backstop.
    Returns each sale's award with its events (`TierChanged`, `PointsChanged`), which the
    caller publishes in the same transaction with its own.
    """
    if not awards:
        return []
    assert connection.in_atomic_block  # noqa: S101 - a caller bug, not input
    locked = lock_accounts([str(award.member_id) for award in awards])
    results, fragments = plan_awards(awards, locked=locked, now=now or timezone.now())
    write_together(fragments)
    return results


def plan_awards(
    awards: Sequence[SaleToAward], *, locked: LockedAccounts, now: dt.datetime
) -> tuple[list[Awarded], list[Statement]]:
    """`award_sales` for a caller that locked the accounts itself (`account_lock_statements`,
    every member of `awards` among them) and writes the returned fragments together with its
    own rows (`atrium.sql.write_together`), in the same transaction."""
    plan = _plan(awards, locked, now)
    return plan.results, _fragments(plan.rows, plan.accounts, now)


@dataclass
class AwardPlan:
    """Awards planned from the accounts as read before their locks (`speculate_awards`), with
    their rows already encoded."""

    read: dict[str, tuple[str, int, int, int | None, str]]
    results: list[Awarded]
    rows: _Rows
    drafts: list[tuple[str, Draft]]


@dataclass
class Settled:
    """A plan's awards once the accounts are locked (`settle_awards`)."""

    results: list[Awarded]  # in the order of the awards
    fragments: list[Statement]  # for `atrium.sql.write_together`
    changed: set[str]  # the members whose awards were planned again


def speculate_awards(
    awards: Sequence[SaleToAward], *, read: LockedAccounts, now: dt.datetime
) -> AwardPlan:
    """Plan the awards from an unlocked read of the accounts (`account_lock_statements` with
    `lock=False`) and encode their rows, before the locks: a batch then holds its members'
    locks only for what `settle_awards` redoes, and concurrent batches that share members wait
    for each other that much less (docs/adr/0019-awards-planned-before-the-locks.md)."""
    plan = _plan(awards, read, now)
    return AwardPlan(
        read={row[0]: row for row in read.rows},
        results=plan.results,
        rows=plan.rows,
        drafts=_drafts(plan.rows, plan.accounts, now),
    )


def settle_awards(
    plan: AwardPlan,
    awards: Sequence[SaleToAward],
    *,
    locked: LockedAccounts,
    now: dt.datetime,
    deferred: frozenset[str] = frozenset(),
) -> Settled:
    """`plan_awards` once the accounts are locked, from a `speculate_awards` plan of the same
    awards: the members whose account row is still the version it was planned from keep their
    awards and rows; the others (another transaction wrote their account meanwhile) are planned
    again from the locked rows, and their drafted rows left out. A member's award depends on
    their own account and sums only, and every write to those sums writes the account row too
    (a new row version). The `deferred` members' rows are left out and not planned again: their
    sales are written by another transaction (their results here are not theirs)."""
    changed = {row[0] for row in locked.rows if plan.read.get(row[0]) != row}
    if not changed and not deferred:
        return Settled(plan.results, [draft.statement() for _, draft in plan.drafts], changed)
    again = [index for index, award in enumerate(awards) if str(award.member_id) in changed]
    redone = _plan(
        [awards[index] for index in again],
        LockedAccounts(tuple(row for row in locked.rows if row[0] in changed)),
        now,
    )
    results = list(plan.results)
    for index, result in zip(again, redone.results, strict=True):
        results[index] = result
    left_out = changed | deferred
    skip = {
        "member": left_out,
        "entry": {entry[0] for entry in plan.rows.entries if entry[2] in left_out},
    }
    fragments = [draft.statement(skip[kind]) for kind, draft in plan.drafts]
    return Settled(results, [*fragments, *_fragments(redone.rows, redone.accounts, now)], changed)


@dataclass
class _Planned:
    results: list[Awarded]
    rows: _Rows
    accounts: dict[str, _Account]


def _plan(awards: Sequence[SaleToAward], locked: LockedAccounts, now: dt.datetime) -> _Planned:
    if not awards:
        return _Planned([], _Rows(), {})
    tiers_by_rank = cached_tiers()
    tiers = {tier.pk: tier for tier in tiers_by_rank}
    awarded = {str(award.member_id) for award in awards}
    accounts = {m: a for m, a in _accounts(locked, tiers).items() if m in awarded}
    days = {local_day(award.facts.occurred_at) for award in awards}
    rules = {day: cached_rules_in_force(day) for day in days}
    capped_days = {
        day
        for day in days
        if any(r.kind == RuleKind.CAP and r.per_day_cap is not None for r in rules[day])
    }
    if capped_days:
        capped_days.add(local_day(now))  # today's entries count for a sale of today
    # Growth can only move a member up when the next tier is within reach of all their growth.
    added: dict[str, int] = {}
    settings_row = program_settings()
    for award in awards:
        member = str(award.member_id)
        added[member] = added.get(member, 0) + int(award.facts.total * settings_row.growth_per_yuan)
    window_for = [
        member
        for member, account in accounts.items()
        if any(
            tier.growth_threshold <= account.growth + added[member]
            and (account.tier is None or tier.rank > account.tier.rank)
            for tier in tiers_by_rank[1:]
        )
    ]
    _read_sums(accounts, capped_days=capped_days, window_for=window_for, since=window_start(now))
    rows = _Rows()
    published: list[DomainEvent] = []
    results: list[Awarded] = []
    today = local_day(now)
    lowest = tiers_by_rank[0] if tiers_by_rank else None
    ids = iter(uuid4_strings(2 * len(awards)))  # an entry and a lot per award at most
    lot_dates = _LotDates(
        earned=now.isoformat(),
        available=(now + dt.timedelta(days=settings_row.pending_days)).isoformat(),
        expires=add_months(now, settings_row.points_validity_months).isoformat(),
    )
    for award in awards:
        member = str(award.member_id)
        account = accounts[member]
        first_event = len(published)
        if account.tier is None and lowest is not None:
            _change_tier(
                rows, published, member, account, lowest, reason="joined",
                growth=account.growth, at=now,
            )  # fmt: skip
        day = local_day(award.facts.occurred_at)
        quote = quote_sale(
            facts=award.facts,
            tier=account.tier,
            earned_today=account.earned.get(day, 0),
            rules=rules[day],
            growth_per_yuan=settings_row.growth_per_yuan,
            explain=False,
        )
        entry_id = None
        if quote.points > 0:
            entry_id = _earn(
                rows, published, member, account, award, quote.points, ids=ids, dates=lot_dates
            )
            account.earned[today] = account.earned.get(today, 0) + quote.points
        if quote.growth > 0:
            rows.growth.append(
                (member, quote.growth, "sale", "sale", award.sale_id,
                 f"{award.idempotency_key}:growth")
            )  # fmt: skip
            account.growth += quote.growth
            account.window += quote.growth
            if member in window_for:
                best = max(
                    (t for t in tiers_by_rank if t.growth_threshold <= account.window),
                    key=lambda t: t.rank,
                    default=None,
                )
                if best is not None and (account.tier is None or best.rank > account.tier.rank):
                    _change_tier(
                        rows, published, member, account, best, reason="upgrade",
                        growth=account.window, at=now,
                    )  # fmt: skip
        results.append(
            Awarded(
                points=quote.points,
                growth=quote.growth,
                balance=account.balance,
                tier=account.tier.code if account.tier else None,
                entry_id=entry_id,
                quote=quote,
                events=tuple(published[first_event:]),
            )
        )
    return _Planned(results, rows, accounts)


@dataclass(frozen=True)
class _LotDates:
    """When a write's lots are earned, become available and expire (the same for all of them),
    encoded once."""

    earned: str
    available: str
    expires: str


def _earn(
    rows: _Rows,
    published: list[DomainEvent],
    member: str,
    account: _Account,
    award: SaleToAward,
    points: int,
    *,
    ids: Iterator[str],
    dates: _LotDates,
) -> str:
    """What `ledger.earn_points` writes for a sale: entry, postings, lot and its movement."""
    check_points(points)
    issuer = award.facts.merchant_id
    entry_id, lot_id = next(ids), next(ids)
    request_hash = entry_hash(
        op="earn", member=uuid.UUID(member), points=points, source=LotSource.SALE, type="sale",
        id=award.sale_id, issuer=issuer,
    )  # fmt: skip
    rows.entries.append(
        (entry_id, EntryKind.EARN, member, points, f"{award.idempotency_key}:points",
         request_hash, "sale", "sale", award.sale_id, issuer)
    )  # fmt: skip
    rows.postings.append((entry_id, LedgerAccount.MEMBER, member, points))
    rows.postings.append((entry_id, LedgerAccount.ISSUED, None, -points))
    rows.lots.append(
        (lot_id, member, entry_id, LotSource.SALE, issuer, points, dates.earned,
         dates.available, dates.expires)
    )  # fmt: skip
    account.balance += points
    published.append(
        events.PointsChanged(
            member_id=member,
            entry_id=entry_id,
            kind=EntryKind.EARN,
            points=points,
            balance=account.balance,
        )
    )
    return entry_id


_ACCOUNTS_SQL = """
UPDATE {table} AS a
SET balance = u.balance, growth = u.growth, tier_id = u.tier_id,
    tier_since = coalesce(u.tier_since, a.tier_since), updated_at = u.updated_at
FROM json_populate_recordset(NULL::{table}, %(rows)s::json) AS u
WHERE a.member_id = u.member_id"""
_ENTRY_COLUMNS = (
    "id", "kind", "member_id", "points", "idempotency_key", "request_hash", "reason",
    "source_type", "source_id", "merchant_id", "actor", "created_at",
)  # fmt: skip
_LOT_COLUMNS = (
    "id", "member_id", "entry_id", "source", "issuer_merchant_id", "original", "remaining",
    "earned_at", "available_at", "expires_at",
)  # fmt: skip
_GROWTH_COLUMNS = (
    "member_id", "delta", "reason", "source_type", "source_id", "idempotency_key", "created_at",
)  # fmt: skip


def _fragments(rows: _Rows, accounts: dict[str, _Account], now: dt.datetime) -> list[Statement]:
    """The rows to write, one fragment per table that gets any (`atrium.sql.write_together`)."""
    return [draft.statement() for _, draft in _drafts(rows, accounts, now)]


def _drafts(
    rows: _Rows, accounts: dict[str, _Account], now: dt.datetime
) -> list[tuple[str, Draft]]:
    """`_fragments` as drafts, each with what its rows are left out by: "member" (the member
    id) or "entry" (the journal entry id, for postings and lot movements)."""
    drafts = []
    at = now.isoformat()  # once, not once per row
    if rows.entries:
        drafts.append(
            ("member", insert_draft(
                JournalEntry._meta.db_table, _ENTRY_COLUMNS, [(*e, "", at) for e in rows.entries],
                key="member_id",
            ))
        )  # fmt: skip
        drafts.append(
            ("entry", insert_draft(
                Posting._meta.db_table, ("entry_id", "account", "member_id", "amount"),
                rows.postings, key="entry_id",
            ))
        )  # fmt: skip
    if rows.lots:
        drafts.append(
            ("member", insert_draft(
                PointsLot._meta.db_table, _LOT_COLUMNS,
                [(i, m, e, src, iss, pts, pts, at, av, ex)
                 for i, m, e, src, iss, pts, at, av, ex in rows.lots],
                key="member_id",
            ))
        )  # fmt: skip
        drafts.append(
            ("entry", insert_draft(
                LotMovement._meta.db_table, ("lot_id", "entry_id", "amount"),
                [(lot[0], lot[2], lot[5]) for lot in rows.lots], key="entry_id",
            ))
        )  # fmt: skip
    if rows.growth:
        drafts.append(
            ("member", insert_draft(
                GrowthEntry._meta.db_table, _GROWTH_COLUMNS, [(*g, at) for g in rows.growth],
                key="member_id",
            ))
        )  # fmt: skip
    if rows.tier_changes:
        drafts.append(
            ("member", insert_draft(
                TierChange._meta.db_table,
                ("member_id", "from_tier_id", "to_tier_id", "reason", "growth", "created_at"),
                [(*t, at) for t in rows.tier_changes], key="member_id",
            ))
        )  # fmt: skip
    if accounts:
        updates = [
            (member, a.balance, a.growth, a.tier.pk if a.tier else None, a.tier_changed_at, at)
            for member, a in accounts.items()
        ]
        columns = ("member_id", "balance", "growth", "tier_id", "tier_since", "updated_at")
        drafts.append(
            ("member", Draft(
                _ACCOUNTS_SQL.format(table=PointsAccount._meta.db_table) + "{skip}",
                json_rows(columns, updates), key="u.member_id", joiner="AND",
            ))
        )  # fmt: skip
    return drafts
