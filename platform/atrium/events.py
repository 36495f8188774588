"""Domain events: frozen dataclasses with a topic, published through the transactional outbox.

Each app declares its events in its own `events.py` (subclasses of `DomainEvent`) and calls
`publish(...)` inside the transaction of the change it announces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from atrium import outbox
from atrium.sql import Draft, Statement


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened in one tenant; payload fields are ids and values, never PII."""

    topic: ClassVar[str]


def publish(event: DomainEvent) -> None:
    """Write the event to the current tenant's outbox, inside the current transaction."""
    outbox.emit(event.topic, payload(event))


def publish_many(events: Sequence[DomainEvent]) -> None:
    """Write several events to the current tenant's outbox with one statement, in order."""
    outbox.emit_many([(event.topic, payload(event)) for event in events])


def publish_many_statement(events: Sequence[DomainEvent]) -> Statement | None:
    """`publish_many` as a fragment for `atrium.sql.write_together` (None for no events)."""
    return outbox.emit_many_statement([(event.topic, payload(event)) for event in events])


def publish_many_draft(events: Sequence[DomainEvent]) -> tuple[Draft, list[str]]:
    """`publish_many` as an `atrium.sql.Draft` (`outbox.emit_many_draft`), with the events'
    ids in order; at least one event."""
    return outbox.emit_many_draft([(event.topic, payload(event)) for event in events])


_field_names: dict[type[DomainEvent], tuple[str, ...]] = {}


def payload(event: DomainEvent) -> dict[str, Any]:
    """An event's fields as its payload (events are flat: ids and values)."""
    kind = type(event)
    names = _field_names.get(kind)
    if names is None:
        names = _field_names[kind] = tuple(f.name for f in fields(event))
    return {name: getattr(event, name) for name in names}
