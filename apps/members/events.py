"""Outbox events of the members app (written in the same transaction as the change).

Payloads carry ids and codes only, never names, phones or other identifiers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

from atrium import outbox


@dataclass(frozen=True)
class MemberEvent:
    topic: ClassVar[str]


@dataclass(frozen=True)
class MemberJoined(MemberEvent):
    """A new member (welcome journeys, sign-up points, analytics)."""

    topic: ClassVar[str] = "members.joined"
    member_id: str
    channel: str


@dataclass(frozen=True)
class MembersMerged(MemberEvent):
    """A duplicate folded into another member; consumers re-point what they keep by member."""

    topic: ClassVar[str] = "members.merged"
    source_id: str
    target_id: str
    automatic: bool


@dataclass(frozen=True)
class MemberClosed(MemberEvent):
    """An account closed on request: consumers erase what they copied about the member."""

    topic: ClassVar[str] = "members.closed"
    member_id: str


def publish(event: MemberEvent) -> None:
    """Write the event to the outbox of the current tenant, inside the current transaction."""
    outbox.emit(event.topic, asdict(event))
