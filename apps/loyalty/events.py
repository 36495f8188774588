"""Outbox events of the loyalty app (written in the same transaction as the change)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

from atrium import outbox


@dataclass(frozen=True)
class LoyaltyEvent:
    topic: ClassVar[str]


@dataclass(frozen=True)
class PointsChanged(LoyaltyEvent):
    """Any change of a member's balance: members see points land, consoles tick."""

    topic: ClassVar[str] = "loyalty.points_changed"
    member_id: str
    entry_id: str
    kind: str
    points: int
    balance: int


@dataclass(frozen=True)
class PointsExpiring(LoyaltyEvent):
    topic: ClassVar[str] = "loyalty.points_expiring"
    member_id: str
    points: int
    expires_on: str


@dataclass(frozen=True)
class TierChanged(LoyaltyEvent):
    topic: ClassVar[str] = "loyalty.tier_changed"
    member_id: str
    from_tier: str | None
    to_tier: str
    reason: str


def publish(event: LoyaltyEvent) -> None:
    """Write the event to the outbox of the current tenant, inside the current transaction."""
    outbox.emit(event.topic, asdict(event))
