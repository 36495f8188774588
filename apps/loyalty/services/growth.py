"""Growth value (its own ledger) and tiers: upgrade at once, re-evaluate on a schedule."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.loyalty import events, locks
from apps.loyalty.choices import TierEvaluation
from apps.loyalty.errors import LedgerKeyConflictError
from apps.loyalty.models import GrowthEntry, PointsAccount, Tier, TierChange
from apps.loyalty.selectors import list_tiers, program_settings, window_growth
from apps.members.models import Member


def window_start(now: dt.datetime) -> dt.datetime:
    """Where the tier evaluation window begins: 12 months back, or the calendar year's start."""
    if program_settings().tier_evaluation == TierEvaluation.CALENDAR_YEAR:
        local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
        return local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return now - dt.timedelta(days=365)


def qualified_tier(growth: int) -> Tier | None:
    """The highest tier whose threshold the growth reaches."""
    return list_tiers().filter(growth_threshold__lte=growth).order_by("-rank").first()


def _change_tier(account: PointsAccount, tier: Tier, *, reason: str, growth: int) -> None:
    previous = account.tier
    TierChange.objects.create(
        member_id=account.member_id, from_tier=previous, to_tier=tier, reason=reason, growth=growth
    )
    account.tier = tier
    account.tier_since = timezone.now()
    account.save(update_fields=["tier", "tier_since", "updated_at"])
    events.publish(
        events.TierChanged(
            member_id=str(account.member_id),
            from_tier=previous.code if previous else None,
            to_tier=tier.code,
            reason=reason,
        )
    )


@transaction.atomic(savepoint=False)  # hot path: no savepoint when nested
def add_growth(
    *,
    member: Member,
    delta: int,
    reason: str,
    idempotency_key: str,
    source_type: str = "",
    source_id: str = "",
    now: dt.datetime | None = None,
) -> GrowthEntry | None:
    """Add (or take back, never below zero) growth, and upgrade the tier the moment it qualifies.

    Returns None when the delta is zero after clamping. Raises LedgerKeyConflictError.
    """
    account = locks.points_account_for_update(member=member)
    done = GrowthEntry.objects.filter(idempotency_key=idempotency_key).first()
    if done is not None:
        if (done.member_id, done.source_type, done.source_id) != (
            member.pk,
            source_type,
            source_id,
        ):
            raise LedgerKeyConflictError(
                "growth key reused for another change", key=idempotency_key
            )
        return done
    delta = max(delta, -account.growth)
    if delta == 0:
        return None
    entry = GrowthEntry.objects.create(
        member=member,
        delta=delta,
        reason=reason,
        source_type=source_type,
        source_id=source_id,
        idempotency_key=idempotency_key,
    )
    account.growth += delta
    account.save(update_fields=["growth", "updated_at"])
    if delta > 0:
        _upgrade_if_qualified(account, member, now or timezone.now())
    return entry


def ensure_tier(account: PointsAccount) -> None:
    """Give an account without a tier the lowest one (new members)."""
    if account.tier_id is None and (lowest := list_tiers().first()) is not None:
        _change_tier(account, lowest, reason="joined", growth=account.growth)


def _upgrade_if_qualified(account: PointsAccount, member: Member, now: dt.datetime) -> None:
    ensure_tier(account)
    growth = window_growth(member=member, since=window_start(now))
    best = qualified_tier(growth)
    if best is not None and (account.tier is None or best.rank > account.tier.rank):
        _change_tier(account, best, reason="upgrade", growth=growth)


@transaction.atomic
def evaluate_tier(*, member: Member, now: dt.datetime | None = None) -> Tier | None:
    """Re-evaluate one member: keep the tier while its retention growth is met, else move to the
    tier the window's growth qualifies for. Returns the tier after evaluation."""
    now = now or timezone.now()
    account = locks.points_account_for_update(member=member)
    ensure_tier(account)
    growth = window_growth(member=member, since=window_start(now))
    best = qualified_tier(growth)
    current = account.tier
    if best is None or current is None:
        return current
    if best.rank > current.rank:
        _change_tier(account, best, reason="upgrade", growth=growth)
    elif best.rank < current.rank and growth < current.retention_growth:
        _change_tier(account, best, reason="downgrade", growth=growth)
    return account.tier


def evaluate_all_tiers(*, now: dt.datetime | None = None) -> int:
    """The scheduled evaluation of every member with an account. Returns members evaluated."""
    count = 0
    for member in Member.objects.filter(points__isnull=False).iterator(chunk_size=500):
        evaluate_tier(member=member, now=now)
        count += 1
    return count


def move_growth(*, source: Member, target: Member, idempotency_key: str) -> None:
    """Carry a merged member's growth (entries keep their dates for the windows)."""
    moved = list(GrowthEntry.objects.filter(member=source).values_list("delta", "created_at"))
    if not moved:
        return
    source_account = locks.points_account_for_update(member=source)
    target_account = locks.points_account_for_update(member=target)
    total = sum(delta for delta, _ in moved)
    GrowthEntry.objects.filter(member=source).update(member=target)
    GrowthEntry.objects.create(
        member=source, delta=0, reason="merged away", source_type="member",
        source_id=str(target.pk), idempotency_key=idempotency_key,
    )  # fmt: skip
    source_account.growth = 0
    source_account.save(update_fields=["growth", "updated_at"])
    target_account.growth += total
    target_account.save(update_fields=["growth", "updated_at"])
    _upgrade_if_qualified(target_account, target, timezone.now())


def scheduled_tier_evaluation(*, now: dt.datetime | None = None) -> int:
    """The nightly job: rolling windows are evaluated every night, calendar years on 1 January
    (local time). Returns the members evaluated."""
    now = now or timezone.now()
    if program_settings().tier_evaluation == TierEvaluation.CALENDAR_YEAR:
        local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
        if (local.month, local.day) != (1, 1):
            return 0
    return evaluate_all_tiers(now=now)
