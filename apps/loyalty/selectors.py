"""Reads of the program: settings, tiers, balances, ledgers, rules."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from apps.loyalty.choices import EntryKind, RuleStatus
from apps.loyalty.errors import RuleNotFoundError
from apps.loyalty.models import (
    AdjustmentRequest,
    BehaviourRule,
    EarningRule,
    GrowthEntry,
    JournalEntry,
    LotMovement,
    PointsAccount,
    PointsLot,
    Posting,
    ProgramSettings,
    Tier,
    TierChange,
)
from apps.members.models import Member
from atrium.tenancy import current_schema

SETTINGS_CACHE_SECONDS = 10.0
_settings_cache: dict[str, tuple[float, ProgramSettings]] = {}
# Schemas whose settings this process changed in a transaction not yet committed: never cache
# what such a transaction reads (it may still roll back).
_settings_dirty: set[str] = set()


def program_settings() -> ProgramSettings:
    """The program's settings row (created with defaults on first use).

    Read on every sale several times, changed rarely: each process keeps it for a few seconds
    (`forget_program_settings` drops this process's copy at once after a change).
    """
    schema = current_schema()
    cached = _settings_cache.get(schema)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    settings, _ = ProgramSettings.objects.get_or_create(pk=1)
    if schema not in _settings_dirty:
        _settings_cache[schema] = (time.monotonic() + SETTINGS_CACHE_SECONDS, settings)
    return settings


def settings_changing() -> None:
    """Called by a transaction that changes the settings: drop the copy, stop caching until the
    change commits (`settings_changed`)."""
    schema = current_schema()
    _settings_dirty.add(schema)
    _settings_cache.pop(schema, None)


def settings_changed(schema: str) -> None:
    """The change committed: cache again from the next read."""
    _settings_dirty.discard(schema)
    _settings_cache.pop(schema, None)


# Tiers and rules in force, per process, for the sale writer (read on every sale, changed
# rarely): kept a few seconds like the settings; a change in this process drops them at once and
# stops caching the schema until it commits (signals in apps.py), other processes see it within
# PROGRAM_CACHE_SECONDS.
PROGRAM_CACHE_SECONDS = 10.0
_program_cache: dict[tuple[str, Any, str], tuple[float, Any]] = {}
_program_dirty: set[str] = set()


def _cached(name: str, load: Callable[[], Any]) -> Any:
    schema = current_schema()
    key = (schema, getattr(getattr(connection, "tenant", None), "pk", None), name)
    hit = _program_cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    value = load()
    if schema not in _program_dirty:
        _program_cache[key] = (time.monotonic() + PROGRAM_CACHE_SECONDS, value)
    return value


def _forget_program(schema: str) -> None:
    for key in [key for key in _program_cache if key[0] == schema]:
        _program_cache.pop(key, None)


def program_changing() -> None:
    """A tier or rule is being written: drop this schema's copies and cache nothing of it until
    the transaction commits."""
    schema = current_schema()
    _program_dirty.add(schema)
    _forget_program(schema)

    def changed() -> None:
        _program_dirty.discard(schema)
        _forget_program(schema)

    transaction.on_commit(changed)


def tiers_by_rank() -> list[Tier]:
    """Tiers from lowest to highest (cached a few seconds; treat as read-only)."""
    return list(_cached("tiers", lambda: list(list_tiers())))


def cached_rules_in_force(day: dt.date) -> list[EarningRule]:
    """`rules_in_force(day)` cached a few seconds (treat the rules as read-only)."""
    return list(_cached(f"rules:{day.isoformat()}", lambda: list(rules_in_force(day))))


def list_tiers() -> QuerySet[Tier]:
    """Tiers from lowest to highest."""
    return Tier.objects.order_by("rank")


def base_earning_rule() -> EarningRule | None:
    """The published base rate in force today."""
    return (
        rules_in_force(timezone.localdate())
        .filter(is_base=True)
        .order_by("-effective_from")
        .first()
    )


def rules_in_force(day: dt.date) -> QuerySet[EarningRule]:
    """Published rules effective on a day."""
    return EarningRule.objects.filter(status=RuleStatus.PUBLISHED, effective_from__lte=day).exclude(
        effective_to__lt=day
    )


@dataclass(frozen=True)
class PointsSummary:
    balance: int
    spendable: int
    pending: int
    expiring_soon: int
    expiring_before: dt.datetime
    growth: int
    tier: Tier | None
    next_tier: Tier | None
    growth_to_next_tier: int | None


def points_summary(
    *, member: Member, now: dt.datetime | None = None, soon_days: int = 30
) -> PointsSummary:
    """Balance, what is spendable, pending and expiring soon, growth and tier progress."""
    now = now or timezone.now()
    account = PointsAccount.objects.select_related("tier").filter(member=member).first()
    lots = list(PointsLot.objects.filter(member=member, remaining__gt=0))
    soon = now + dt.timedelta(days=soon_days)
    spendable = sum(lot.remaining for lot in lots if lot.available_at <= now < lot.expires_at)
    pending = sum(lot.remaining for lot in lots if lot.available_at > now)
    expiring = sum(
        lot.remaining for lot in lots if lot.available_at <= now < lot.expires_at <= soon
    )
    tier = account.tier if account and account.tier else list_tiers().first()
    growth = account.growth if account else 0
    next_tier = list_tiers().filter(rank__gt=tier.rank).first() if tier else None
    return PointsSummary(
        balance=account.balance if account else 0,
        spendable=spendable,
        pending=pending,
        expiring_soon=expiring,
        expiring_before=soon,
        growth=growth,
        tier=tier,
        next_tier=next_tier,
        growth_to_next_tier=max(next_tier.growth_threshold - growth, 0) if next_tier else None,
    )


def list_entries(*, member: Member) -> QuerySet[JournalEntry]:
    """A member's journal entries, newest first (merges into them included)."""
    return JournalEntry.objects.filter(member=member).order_by("-created_at", "-id")


def list_growth_entries(*, member: Member) -> QuerySet[GrowthEntry]:
    """A member's growth ledger, newest first."""
    return GrowthEntry.objects.filter(member=member).order_by("-created_at", "-id")


def posted_balance(*, member: Member) -> int:
    """The sum of the member's postings (equals the account balance; used by the invariants)."""
    total = Posting.objects.filter(member=member).aggregate(total=Sum("amount"))["total"]
    return int(total or 0)


def open_lots_balance(*, member: Member) -> int:
    """The sum of the member's open lots (equals the account balance)."""
    total = PointsLot.objects.filter(member=member).aggregate(total=Sum("remaining"))["total"]
    return int(total or 0)


def window_growth(*, member: Member, since: dt.datetime) -> int:
    """Growth earned since a moment (for tier evaluation windows)."""
    total = GrowthEntry.objects.filter(member=member, created_at__gte=since).aggregate(
        total=Sum("delta")
    )["total"]
    return int(total or 0)


def get_rule(*, rule_id: uuid.UUID | str) -> EarningRule:
    """One earning rule (any version, any status). Raises RuleNotFoundError."""
    try:
        rule = EarningRule.objects.select_related("supersedes").filter(pk=rule_id).first()
    except (ValueError, ValidationError):
        rule = None
    if rule is None:
        raise RuleNotFoundError("rule not found")
    return rule


def rules_by_id(*, rule_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, EarningRule]:
    """The earning rules among these ids (any version, any status), by id; unknown ids absent."""
    return {rule.pk: rule for rule in EarningRule.objects.filter(pk__in=list(rule_ids))}


def draft_rule(**fields: object) -> EarningRule:
    """An unsaved draft rule from the editor's fields, for a preview or backtest only."""
    return EarningRule(status=RuleStatus.DRAFT, effective_from=timezone.localdate(), **fields)


def list_rules(*, status: str | None = None) -> QuerySet[EarningRule]:
    """Earning rules, every version kept, newest first."""
    rules = EarningRule.objects.order_by("-effective_from", "-created_at", "-id")
    return rules.filter(status=status) if status else rules


def list_behaviour_rules() -> QuerySet[BehaviourRule]:
    """The points of each behaviour (sign-up, check-in, referral, activity...)."""
    return BehaviourRule.objects.order_by("behaviour")


def list_tier_changes(*, member: Member) -> QuerySet[TierChange]:
    """A member's tier changes, newest first."""
    return (
        TierChange.objects.filter(member=member)
        .select_related("from_tier", "to_tier")
        .order_by("-created_at", "-id")
    )


def list_adjustments(
    *, status: str | None = None, member: Member | None = None
) -> QuerySet[AdjustmentRequest]:
    """Manual adjustments, newest first, by status and/or member."""
    queryset = AdjustmentRequest.objects.select_related("member").order_by("-created_at", "-id")
    if status:
        queryset = queryset.filter(status=status)
    if member is not None:
        queryset = queryset.filter(member=member)
    return queryset


@dataclass(frozen=True)
class LotTaken:
    """One lot's part in an entry: the lot and the points the entry took from it (positive)."""

    lot: PointsLot
    points: int


def entry_consumption(*, entry_id: uuid.UUID) -> list[LotTaken]:
    """The lots an entry consumed, in the order the ledger took them (oldest expiry first)."""
    movements = (
        LotMovement.objects.filter(entry_id=entry_id, amount__lt=0)
        .select_related("lot")
        .order_by("lot__expires_at", "lot__earned_at", "lot__id")
    )
    return [LotTaken(lot=m.lot, points=-m.amount) for m in movements]


def lots_by_id(*, lot_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PointsLot]:
    """Lots by id (clearing reads the issuer and dates of the lots it charged)."""
    return PointsLot.objects.in_bulk(list(lot_ids))


def points_issued_by_merchant(
    *, since: dt.datetime, until: dt.datetime, merchant_id: uuid.UUID | None = None
) -> dict[uuid.UUID, int]:
    """Points of lots earned at each merchant in [since, until) (returned points excluded)."""
    rows = LotMovement.objects.filter(
        amount__gt=0,
        entry__kind=EntryKind.EARN,
        lot__issuer_merchant_id__isnull=False,
        lot__earned_at__gte=since,
        lot__earned_at__lt=until,
    )
    if merchant_id is not None:
        rows = rows.filter(lot__issuer_merchant_id=merchant_id)
    return {
        row["lot__issuer_merchant_id"]: int(row["points"])
        for row in rows.values("lot__issuer_merchant_id").annotate(points=Sum("amount"))
    }


def points_expired_by_merchant(
    *, since: dt.datetime, until: dt.datetime, merchant_id: uuid.UUID | None = None
) -> dict[uuid.UUID, int]:
    """Points of each merchant's lots that expired in [since, until)."""
    rows = LotMovement.objects.filter(
        entry__kind=EntryKind.EXPIRE,
        lot__issuer_merchant_id__isnull=False,
        entry__created_at__gte=since,
        entry__created_at__lt=until,
    )
    if merchant_id is not None:
        rows = rows.filter(lot__issuer_merchant_id=merchant_id)
    return {
        row["lot__issuer_merchant_id"]: -int(row["points"])
        for row in rows.values("lot__issuer_merchant_id").annotate(points=Sum("amount"))
    }


def open_points_by_issuer(
    *, now: dt.datetime, earned_from: dt.datetime | None, earned_before: dt.datetime | None
) -> dict[uuid.UUID | None, int]:
    """Points left in unexpired lots, by issuer (None: the mall), for lots earned in a window."""
    rows = PointsLot.objects.filter(remaining__gt=0, expires_at__gt=now)
    if earned_from is not None:
        rows = rows.filter(earned_at__gte=earned_from)
    if earned_before is not None:
        rows = rows.filter(earned_at__lt=earned_before)
    return {
        row["issuer_merchant_id"]: int(row["points"])
        for row in rows.values("issuer_merchant_id").annotate(points=Sum("remaining"))
    }
