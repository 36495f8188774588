"""Outbox events of the reconciliation app (written in the same transaction as the run)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from atrium.events import DomainEvent
from atrium.events import publish as publish  # callers use `events.publish(...)`


@dataclass(frozen=True)
class ReconciliationBroken(DomainEvent):
    """A channel's daily bill does not match our records: finance is alerted."""

    topic: ClassVar[str] = "reconciliation.broken"
    run_id: str
    channel: str
    bill_date: str
    missing_ours: int
    missing_theirs: int
    amount_mismatch: int
