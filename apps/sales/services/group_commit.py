"""Group commit of concurrent single sales (docs/adr/0017-group-commit-of-pos-sales.md).

A POS call records one sale, and most of what a sale costs is per transaction, not per sale:
the round trips, the locks, the commit's WAL flush, the writer's set-up. When several calls of
one mall arrive at once in one process, the first becomes the leader and records every sale
queued by the time it starts, in one transaction of `record_merchants_sales`, as the batch
endpoint does; the others wait for it and answer with their own result. When the leader is done
it hands the lead to the first call that queued meanwhile, so no call writes twice or waits for
more than the write in flight and its own group (with its gathering, below). A call that finds
nobody writing and no other call on its way leads at once: alone, nothing waits.

Each sale stays on its own, as in a batch: a refused sale refuses only itself, and retries of one
sale in one group replay the first. If the group's transaction fails as a whole (a deadlock, a
lost connection), every call of it records its sale alone, in its own thread, and answers or
fails on its own.

A leader gathers before it writes (docs/adr/0021-group-commit-gathers-the-calls-in-flight.md):
while other POS calls of its tenant are still on their way through this process (counted from
the moment the request arrives, `arriving`, by `apps.sales.middleware`), it waits for them to
queue, for at most `gather_seconds`. Each of those calls' requests is mostly Python spent before
it queues (HTTP, auth, parsing), so without waiting the groups stay small and every sale pays
most of a transaction's set-up.

A group holds one tenant's sales only (keyed by schema) and is written on the leader's
connection. A waiting call holds no database connection: it returns its pooled one before it
waits (a leader must always find one), and takes one again only if it has to write alone. Calls
inside a transaction, and sales paid with points (clearing locks other merchants' lines first),
are recorded alone.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.merchants.models import Merchant
from apps.sales.choices import PaymentMethod
from apps.sales.services.sales import (
    SaleRequest,
    SaleResult,
    record_merchants_sales,
    record_sales,
)
from atrium.errors import DomainError
from atrium.tenancy import current_schema

MAX_GROUP = 100  # the batch endpoint's default size: beyond it a group gains little


@dataclass(eq=False)
class _Arrival:
    """A POS call on its way through this process, until it queues or ends."""

    owner: GroupCommit
    queue: _Queue
    pending: bool = True


_arrival: ContextVar[_Arrival | None] = ContextVar("sales_arrival", default=None)


@dataclass(eq=False)
class _Call:
    merchant: Merchant
    request: SaleRequest
    ready: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to write the next group
    alone: bool = False  # woken to write its own sale (its group failed)
    result: SaleResult | DomainError | None = None


@dataclass
class _Queue:
    calls: deque[_Call] = field(default_factory=deque)
    writing: bool = False
    arriving: int = 0  # POS calls of the tenant in this process that have not queued yet


class GroupCommit:
    """Per-process grouping of concurrent sales, by tenant (`record` is the entry point)."""

    def __init__(self, max_group: int = MAX_GROUP, gather_seconds: float | None = None) -> None:
        self.max_group = max_group
        self.gather_seconds = (
            settings.SALES_GROUP_GATHER_MS / 1000 if gather_seconds is None else gather_seconds
        )
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a call queued or stopped arriving
        self._queues: dict[str, _Queue] = {}
        self.groups = 0  # how many transactions wrote grouped sales (for tests and the bench)
        self.sales = 0  # how many sales they held

    def record(
        self, *, merchant: Merchant, request: SaleRequest, now: dt.datetime | None = None
    ) -> SaleResult:
        """Record one sale, grouped with the process's concurrent ones: what `record_sale`
        answers for it, or the DomainError that refused it, raised."""
        arrival = _arrival.get()
        if arrival is not None and arrival.owner is not self:
            arrival = None  # counted by another grouping (tests make their own)
        if connection.in_atomic_block or pays_with_points(request):
            if arrival is not None:
                self._leave(arrival)
            (outcome,) = record_sales(merchant=merchant, requests=[request], now=now)
            return _answer(outcome)
        call = _Call(merchant, request)
        schema = current_schema()
        with self._lock:
            if arrival is not None:  # it queues in the same step: a leader sees it either way
                self._left(arrival)
            queue = self._queues.setdefault(schema, _Queue())
            queue.calls.append(call)
            if not queue.writing:
                queue.writing = call.lead = True
            self._changed.notify_all()
        if not call.lead:
            # A waiting call gives its pooled connection back: the leader may need one, and
            # waiting calls holding them all would leave it none.
            connection.close()
            call.ready.wait()
        if call.lead:
            self._lead(queue, now)
        if call.alone:
            (outcome,) = record_sales(merchant=merchant, requests=[request], now=now)
            return _answer(outcome)
        assert call.result is not None  # noqa: S101 - set by the group that held it
        return _answer(call.result)

    @contextmanager
    def arriving(self, schema: str) -> Iterator[None]:
        """Count a POS call of this tenant as on its way, from its request's start until it
        queues (`record`) or its request ends, whichever comes first: a leader gathers it."""
        with self._lock:
            queue = self._queues.setdefault(schema, _Queue())
            queue.arriving += 1
        arrival = _Arrival(self, queue)
        token = _arrival.set(arrival)
        try:
            yield
        finally:
            _arrival.reset(token)
            self._leave(arrival)

    def on_the_way(self, schema: str) -> int:
        """How many POS calls of this tenant are counted as on their way (`arriving`)."""
        with self._lock:
            queue = self._queues.get(schema)
            return queue.arriving if queue is not None else 0

    def _leave(self, arrival: _Arrival) -> None:
        with self._lock:
            self._left(arrival)

    def _left(self, arrival: _Arrival) -> None:  # under self._lock
        if arrival.pending:
            arrival.pending = False
            arrival.queue.arriving -= 1
            self._changed.notify_all()

    def queued(self, schema: str) -> int:
        """How many calls of this tenant wait for a group (none is being written: 0)."""
        with self._lock:
            queue = self._queues.get(schema)
            return len(queue.calls) if queue is not None else 0

    def _lead(self, queue: _Queue, now: dt.datetime | None) -> None:
        with self._lock:
            # Gather: wait for the tenant's calls still on their way here, a bounded time.
            deadline = time.monotonic() + self.gather_seconds
            while queue.arriving and len(queue.calls) < self.max_group:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            count = min(len(queue.calls), self.max_group)
            group = [queue.calls.popleft() for _ in range(count)]
        try:
            outcomes = write_group([(c.merchant, c.request) for c in group], now=now)
        except Exception:
            for call in group:
                call.alone = True
        else:
            for call, outcome in zip(group, outcomes, strict=True):
                call.result = outcome
            if len(group) > 1:
                with self._lock:
                    self.groups += 1
                    self.sales += len(group)
        finally:
            with self._lock:
                if queue.calls:
                    follower = queue.calls[0]
                    follower.lead = True
                    follower.ready.set()
                else:
                    queue.writing = False
            for call in group:
                call.lead = False
                call.ready.set()


def write_group(
    sales: list[tuple[Merchant, SaleRequest]], *, now: dt.datetime | None = None
) -> list[SaleResult | DomainError]:
    """Record a group of one tenant's sales in one transaction, each on its own: its result or
    the DomainError that refused it, in order. Raises if the transaction fails as a whole (a
    deadlock, a lost connection): then each sale is to be recorded alone."""
    if len(sales) == 1:
        ((merchant, request),) = sales
        return record_sales(merchant=merchant, requests=[request], now=now)
    return record_merchants_sales(sales, now=now or timezone.now())


def pays_with_points(request: SaleRequest) -> bool:
    """Whether a sale spends points: clearing locks other merchants' lines first, so it is
    recorded alone, never in a group."""
    return any(line.method == PaymentMethod.POINTS for line in request.payments)


def _answer(outcome: SaleResult | DomainError) -> SaleResult:
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


group_commit = GroupCommit()


def record_sale_grouped(*, merchant: Merchant, request: SaleRequest) -> SaleResult:
    """`record_sale` for a POS call: grouped with the concurrent calls of this process."""
    return group_commit.record(merchant=merchant, request=request)
