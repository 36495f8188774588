"""Outbox events of the members app (written in the same transaction as the change).

Payloads carry ids and codes only, never names, phones or other identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from atrium.events import DomainEvent
from atrium.events import publish as publish  # callers use `events.publish(...)`


@dataclass(frozen=True)
class MemberJoined(DomainEvent):
    """A new member (welcome journeys, sign-up points, analytics)."""

    topic: ClassVar[str] = "members.joined"
    member_id: str
    channel: str


@dataclass(frozen=True)
class MembersMerged(DomainEvent):
    """A duplicate folded into another member; consumers re-point what they keep by member."""

    topic: ClassVar[str] = "members.merged"
    source_id: str
    target_id: str
    automatic: bool


@dataclass(frozen=True)
class MemberClosed(DomainEvent):
    """An account closed on request: consumers erase what they copied about the member."""

    topic: ClassVar[str] = "members.closed"
    member_id: str
