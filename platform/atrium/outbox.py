"""The transactional outbox: `emit()` records an event in the caller's transaction; a relay
delivers it after the commit.

Guarantees (see docs/adr/0006-celery-tenancy.md):
- An event exists only if the change it announces committed: the row is written in the caller's
  transaction, and the relay is enqueued with `transaction.on_commit`, never from inside it.
- Exactly-once marking, at-least-once delivery: the relay claims one row with
  `SELECT ... FOR UPDATE SKIP LOCKED`, runs the handlers and marks the row delivered in the same
  transaction. Two relays never claim the same row; a relay that dies mid-delivery leaves it
  undelivered for the next run (beat sweeps every tenant each minute). A handler may therefore
  see an event twice: websocket messages carry the event id and consumers drop repeats.
- Handlers are dotted paths in `settings.OUTBOX_HANDLERS` (websocket pushes now; journeys and
  webhooks plug in the same way). A handler's database writes run in a savepoint of the
  delivering transaction, so they commit exactly when the row is marked delivered.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from atrium.errors import DomainError, TenantRequiredError
from atrium.ids import uuid4_strings
from atrium.models import OutboxEvent
from atrium.sql import Draft, Statement, execute_arrays, json_rows
from atrium.tenancy import current_schema

logger = logging.getLogger(__name__)

TOPIC_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
LAST_ERROR_MAX_CHARS = 2000


class OutboxUsageError(DomainError):
    """`emit()` was called where an event cannot be recorded safely."""

    code, http_status = "outbox.misuse", 500


@dataclass(frozen=True)
class EventEnvelope:
    """What a delivery handler receives: one event of one tenant."""

    id: str
    schema: str
    topic: str
    payload: dict[str, Any]
    created_at: str

    def as_message(self) -> dict[str, Any]:
        """The event as pushed to clients; `id` lets them drop a repeat."""
        return {
            "id": self.id,
            "topic": self.topic,
            "payload": self.payload,
            "created_at": self.created_at,
        }


Handler = Callable[[EventEnvelope], None]


@dataclass(frozen=True)
class RelayResult:
    delivered: int
    failed: int


def emit(topic: str, payload: Mapping[str, Any]) -> OutboxEvent:
    """Record an event in the current transaction; the relay runs after it commits.

    Raises TenantRequiredError in the public schema, OutboxUsageError outside a transaction or
    for a malformed topic.
    """
    schema = current_schema()
    if schema == settings.PUBLIC_SCHEMA_NAME:
        raise TenantRequiredError("outbox events belong to a tenant schema", topic=topic)
    if not TOPIC_RE.match(topic) or len(topic) > 100:
        raise OutboxUsageError("topic must be dotted lowercase words", topic=topic)
    if not connection.in_atomic_block:
        # Outside a transaction the event and the change could not commit (or fail) together.
        raise OutboxUsageError("emit() must run inside transaction.atomic", topic=topic)
    event = OutboxEvent.objects.create(topic=topic, payload=dict(payload))
    _relay_on_commit(schema)
    return event


def emit_many(messages: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
    """Record several events in the current transaction with one statement, in order (their
    `created_at` rises by a microsecond each, so the relay delivers them as given).

    Raises what `emit` raises.
    """
    statement = emit_many_statement(messages)
    if statement is not None:
        execute_arrays(statement.sql, statement.params)


_EMIT_SQL = (
    f"INSERT INTO {OutboxEvent._meta.db_table} (id, topic, payload, created_at, attempts, "  # noqa: S608
    "last_error) SELECT e.id, e.topic, e.payload, e.created_at, 0, '' FROM "
    "json_to_recordset(%(rows)s::json) AS e(id uuid, topic text, payload jsonb, "
    "created_at timestamptz)"
)
_encoder = DjangoJSONEncoder()
_PAYLOAD_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def _payload(payload: Mapping[str, Any]) -> orjson.Fragment:
    """A payload as `OutboxEvent.payload` stores it (its field's DjangoJSONEncoder for dates,
    decimals, UUIDs and lazy texts), encoded by orjson and placed in the rows' JSON as a value
    rather than as an escaped string (docs/adr/0020-sales-bench-contention-and-encoding.md)."""
    return orjson.Fragment(orjson.dumps(payload, default=_encoder.default, option=_PAYLOAD_OPTIONS))


def emit_many_statement(messages: Sequence[tuple[str, Mapping[str, Any]]]) -> Statement | None:
    """`emit_many` for a caller that writes the events together with its own rows
    (`atrium.sql.write_together`, in the current transaction): the insert, None for no events.
    The relay is queued on commit as `emit_many` does. Raises what `emit` raises."""
    if not messages:
        return None
    draft, _ = emit_many_draft(messages)
    return draft.statement()


def emit_many_draft(
    messages: Sequence[tuple[str, Mapping[str, Any]]],
) -> tuple[Draft, list[str]]:
    """`emit_many_statement` as an `atrium.sql.Draft` whose events can be left out by id, and
    the events' ids in order. The relay is queued on commit. Raises what `emit` raises."""
    schema = current_schema()
    if not messages:
        raise OutboxUsageError("no events to emit", topic="")
    if schema == settings.PUBLIC_SCHEMA_NAME:
        raise TenantRequiredError("outbox events belong to a tenant schema", topic=messages[0][0])
    for topic, _ in messages:
        if not TOPIC_RE.match(topic) or len(topic) > 100:
            raise OutboxUsageError("topic must be dotted lowercase words", topic=topic)
    if not connection.in_atomic_block:
        raise OutboxUsageError("emit() must run inside transaction.atomic", topic=messages[0][0])
    now = timezone.now()
    rows = [
        (event_id, topic, _payload(payload), now + dt.timedelta(microseconds=index))
        for index, (event_id, (topic, payload)) in enumerate(
            zip(uuid4_strings(len(messages)), messages, strict=True)
        )
    ]
    draft = Draft(
        _EMIT_SQL + "{skip}",
        json_rows(("id", "topic", "payload", "created_at"), rows),
        key="e.id",
        joiner="WHERE",
    )
    _relay_on_commit(schema)
    return draft, [row[0] for row in rows]


def _relay_on_commit(schema: str) -> None:
    # One relay per transaction and schema is enough: it delivers every pending event.
    pending = [entry[1] for entry in connection.run_on_commit]  # (savepoints, callback, robust)
    relay = functools.partial(enqueue_relay, schema=schema)
    if not any(
        isinstance(callback, functools.partial)
        and callback.func is enqueue_relay
        and callback.keywords == relay.keywords
        for callback in pending
    ):
        transaction.on_commit(relay, robust=True)


# At most one relay waits in the queue per tenant: the flag says one is queued, and the relay
# clears it before it reads the pending events. A commit that finds the flag set needs no relay
# of its own: its events were committed before the queued relay starts reading. (A busy till
# would otherwise pay a broker publish per sale.) The timeout only bounds a lost relay; the
# sweep still catches anything missed.
RELAY_QUEUED_SECONDS = 5


def relay_queued_key(schema: str) -> str:
    return f"outbox-relay-queued:{schema}"


def enqueue_relay(*, schema: str) -> None:
    """Ask a worker to relay one tenant's outbox now, unless a relay is already queued (the sweep
    catches what this misses)."""
    from atrium.tasks import relay_outbox  # the tasks module imports this one

    key = relay_queued_key(schema)
    if not cache.add(key, 1, timeout=RELAY_QUEUED_SECONDS):
        return
    try:
        relay_outbox.apply_async(
            headers={"_schema_name": schema},
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2},
        )
    except Exception:
        cache.delete(key)
        raise


def configured_handlers() -> tuple[Handler, ...]:
    """The delivery handlers named in `settings.OUTBOX_HANDLERS`, in order."""
    return _load_handlers(tuple(settings.OUTBOX_HANDLERS))


@functools.cache
def _load_handlers(paths: tuple[str, ...]) -> tuple[Handler, ...]:
    return tuple(import_string(path) for path in paths)


def relay_pending(*, limit: int = 1000, handlers: Sequence[Handler] | None = None) -> RelayResult:
    """Deliver the current tenant's undelivered events, oldest first, one transaction each.

    Raises TenantRequiredError in the public schema.
    """
    schema = current_schema()
    if schema == settings.PUBLIC_SCHEMA_NAME:
        raise TenantRequiredError("the outbox relay runs in a tenant schema")
    chosen = tuple(handlers) if handlers is not None else configured_handlers()
    failed: list[uuid.UUID] = []
    delivered = 0
    for _ in range(limit):
        outcome = _deliver_next(schema=schema, handlers=chosen, skip=failed)
        if outcome is None:
            break
        event_id, ok = outcome
        if ok:
            delivered += 1
        else:
            failed.append(event_id)  # retried by a later run, not in this loop
    return RelayResult(delivered=delivered, failed=len(failed))


def claim_next(*, skip: Sequence[uuid.UUID] = ()) -> OutboxEvent | None:
    """Lock the oldest undelivered event no other transaction holds; call inside atomic()."""
    return (
        OutboxEvent.objects.select_for_update(skip_locked=True)
        .filter(delivered_at__isnull=True, attempts__lt=settings.OUTBOX_MAX_ATTEMPTS)
        .exclude(pk__in=list(skip))
        .order_by("created_at", "id")
        .first()
    )


def envelope_of(event: OutboxEvent, *, schema: str) -> EventEnvelope:
    return EventEnvelope(
        id=str(event.pk),
        schema=schema,
        topic=event.topic,
        payload=dict(event.payload),
        created_at=event.created_at.isoformat(),
    )


@transaction.atomic
def _deliver_next(
    *, schema: str, handlers: Sequence[Handler], skip: Sequence[uuid.UUID]
) -> tuple[uuid.UUID, bool] | None:
    event = claim_next(skip=skip)
    if event is None:
        return None
    envelope = envelope_of(event, schema=schema)
    event.attempts += 1  # the row is locked, so a plain increment is safe
    try:
        with transaction.atomic():  # a failing handler's own writes roll back alone
            for handler in handlers:
                handler(envelope)
    # The relay is the boundary that keeps one bad event or handler from stopping the others:
    # whatever a handler raises is recorded on the row and retried later.
    except Exception as exc:
        event.last_error = f"{type(exc).__name__}: {exc}"[:LAST_ERROR_MAX_CHARS]
        event.save(update_fields=["attempts", "last_error"])
        logger.warning(
            "outbox.delivery_failed",
            extra={"event_id": envelope.id, "topic": event.topic, "attempts": event.attempts},
            exc_info=True,
        )
        return event.pk, False
    event.delivered_at = timezone.now()
    event.save(update_fields=["attempts", "delivered_at"])
    return event.pk, True


def prune_delivered(*, older_than_days: int) -> int:
    """Delete delivered events older than the retention; returns how many went."""
    cutoff = timezone.now() - dt.timedelta(days=older_than_days)
    deleted, _ = OutboxEvent.objects.filter(
        delivered_at__isnull=False, delivered_at__lt=cutoff
    ).delete()
    return deleted
