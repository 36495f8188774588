"""Domain events: frozen dataclasses with a topic, published through the transactional outbox.

Each app declares its events in its own `events.py` (subclasses of `DomainEvent`) and calls
`publish(...)` inside the transaction of the change it announces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import ClassVar

from atrium import outbox


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened in one tenant; payload fields are ids and values, never PII."""

    topic: ClassVar[str]


def publish(event: DomainEvent) -> None:
    """Write the event to the current tenant's outbox, inside the current transaction."""
    outbox.emit(event.topic, asdict(event))


def publish_many(events: Sequence[DomainEvent]) -> None:
    """Write several events to the current tenant's outbox with one statement, in order."""
    outbox.emit_many([(event.topic, asdict(event)) for event in events])
