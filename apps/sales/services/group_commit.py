"""Group commit of concurrent single sales (docs/adr/0017-group-commit-of-pos-sales.md).

A POS call records one sale, and most of what a sale costs is per transaction, not per sale:
the round trips, the locks, the commit's WAL flush, the writer's set-up. When several calls of
one mall arrive at once in one process, the first becomes the leader and records every sale
queued by the time it starts, in one transaction of `record_merchants_sales`, as the batch
endpoint does; the others wait for it and answer with their own result. When the leader is done
it hands the lead to the first call that queued meanwhile, so no call writes twice or waits for
more than the write in flight and its own group. A call that finds nobody writing leads at once:
alone, nothing waits.

Each sale stays on its own, as in a batch: a refused sale refuses only itself, and retries of one
sale in one group replay the first. If the group's transaction fails as a whole (a deadlock, a
lost connection), every call of it records its sale alone, in its own thread, and answers or
fails on its own.

A group holds one tenant's sales only (keyed by schema) and is written on the leader's
connection. A waiting call holds no database connection: it returns its pooled one before it
waits (a leader must always find one), and takes one again only if it has to write alone. Calls
inside a transaction, and sales paid with points (clearing locks other merchants' lines first),
are recorded alone.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import deque
from dataclasses import dataclass, field

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


class GroupCommit:
    """Per-process grouping of concurrent sales, by tenant (`record` is the entry point)."""

    def __init__(self, max_group: int = MAX_GROUP) -> None:
        self.max_group = max_group
        self._lock = threading.Lock()
        self._queues: dict[str, _Queue] = {}
        self.groups = 0  # how many transactions wrote grouped sales (for tests and the bench)
        self.sales = 0  # how many sales they held

    def record(
        self, *, merchant: Merchant, request: SaleRequest, now: dt.datetime | None = None
    ) -> SaleResult:
        """Record one sale, grouped with the process's concurrent ones: what `record_sale`
        answers for it, or the DomainError that refused it, raised."""
        if connection.in_atomic_block or _pays_with_points(request):
            (outcome,) = record_sales(merchant=merchant, requests=[request], now=now)
            return _answer(outcome)
        call = _Call(merchant, request)
        schema = current_schema()
        with self._lock:
            queue = self._queues.setdefault(schema, _Queue())
            queue.calls.append(call)
            if not queue.writing:
                queue.writing = call.lead = True
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

    def queued(self, schema: str) -> int:
        """How many calls of this tenant wait for a group (none is being written: 0)."""
        with self._lock:
            queue = self._queues.get(schema)
            return len(queue.calls) if queue is not None else 0

    def _lead(self, queue: _Queue, now: dt.datetime | None) -> None:
        with self._lock:
            count = min(len(queue.calls), self.max_group)
            group = [queue.calls.popleft() for _ in range(count)]
        try:
            if len(group) == 1:
                outcomes = record_sales(
                    merchant=group[0].merchant, requests=[group[0].request], now=now
                )
            else:
                outcomes = record_merchants_sales(
                    [(c.merchant, c.request) for c in group], now=now or timezone.now()
                )
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


def _pays_with_points(request: SaleRequest) -> bool:
    return any(line.method == PaymentMethod.POINTS for line in request.payments)


def _answer(outcome: SaleResult | DomainError) -> SaleResult:
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


group_commit = GroupCommit()


def record_sale_grouped(*, merchant: Merchant, request: SaleRequest) -> SaleResult:
    """`record_sale` for a POS call: grouped with the concurrent calls of this process."""
    return group_commit.record(merchant=merchant, request=request)
