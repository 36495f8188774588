"""Outbox events of the sales app (written in the same transaction as the sale or refund)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from atrium.events import DomainEvent
from atrium.events import publish as publish  # callers use `events.publish(...)`


@dataclass(frozen=True)
class SaleRecorded(DomainEvent):
    """A sale landed (with or without a member): settlement, analytics and pushes listen."""

    topic: ClassVar[str] = "sales.sale_recorded"
    sale_id: str
    merchant_id: str
    member_id: str | None
    external_id: str
    channel: str
    occurred_at: str
    total: str
    eligible_amount: str
    points_earned: int
    growth_earned: int


@dataclass(frozen=True)
class SaleRefunded(DomainEvent):
    topic: ClassVar[str] = "sales.sale_refunded"
    sale_id: str
    merchant_id: str
    member_id: str | None
    external_id: str
    refund_id: str
    amount: str
    refunded_total: str
    points_reversed: int
    growth_reversed: int
