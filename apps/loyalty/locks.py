"""Every row lock of the loyalty app. Order across apps: member account -> coupon -> merchant."""

from __future__ import annotations

from collections.abc import Sequence

from apps.loyalty.models import PointsAccount, PointsLot
from apps.members.models import Member


def points_account_for_update(*, member: Member) -> PointsAccount:
    """The member's account row, created on first use, locked until the transaction ends."""
    locked = PointsAccount.objects.select_for_update(of=("self",)).select_related("tier")
    account = locked.filter(member=member).first()
    if account is None:
        PointsAccount.objects.get_or_create(member=member)
        account = locked.get(member=member)
    return account


def points_accounts_for_update(*, members: Sequence[Member]) -> list[PointsAccount]:
    """Several accounts locked in primary-key order (merges), so two merges cannot deadlock."""
    for member in members:
        PointsAccount.objects.get_or_create(member=member)
    ids = sorted(str(member.pk) for member in members)
    return list(
        PointsAccount.objects.select_for_update(of=("self",))
        .select_related("tier")
        .filter(member_id__in=ids)
        .order_by("member_id")
    )


def open_lots_for_update(*, member: Member) -> list[PointsLot]:
    """The member's lots with points left, oldest expiry first (call with the account locked)."""
    return list(
        PointsLot.objects.select_for_update()
        .filter(member=member, remaining__gt=0)
        .order_by("expires_at", "earned_at", "id")
    )
