"""Outbox events of the loyalty app (written in the same transaction as the change)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from atrium.events import DomainEvent
from atrium.events import publish as publish  # callers use `events.publish(...)`


@dataclass(frozen=True)
class PointsChanged(DomainEvent):
    """Any change of a member's balance: members see points land, consoles tick."""

    topic: ClassVar[str] = "loyalty.points_changed"
    member_id: str
    entry_id: str
    kind: str
    points: int
    balance: int


@dataclass(frozen=True)
class PointsExpiring(DomainEvent):
    topic: ClassVar[str] = "loyalty.points_expiring"
    member_id: str
    points: int
    expires_on: str


@dataclass(frozen=True)
class TierChanged(DomainEvent):
    topic: ClassVar[str] = "loyalty.tier_changed"
    member_id: str
    from_tier: str | None
    to_tier: str
    reason: str
