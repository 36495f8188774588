"""The transactional outbox: written with the change, delivered after commit, marked exactly once.

Tests that go through the Celery worker use committed tenants (the worker is another process).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import uuid
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from atrium import outbox
from atrium.errors import TenantRequiredError
from atrium.models import OutboxEvent
from atrium.realtime import console_group
from atrium.tasks import fan_out, relay_outbox
from tenants.selectors import list_active_schema_names
from tenants.services import suspend_tenant
from tests.celery_worker import REPO, in_tenant, wait_until
from tests.realtime import GroupListener, emit_committed, run_sync

RESULT_TIMEOUT = 20


@pytest.fixture(scope="module")
def two_tenants(module_committed_tenants):
    return module_committed_tenants(), module_committed_tenants()


@pytest.fixture
def committed(two_tenants, django_db_blocker):
    """Two committed tenants with empty outboxes, the database unblocked for the whole test."""
    with django_db_blocker.unblock():
        yield two_tenants
        connection.set_schema_to_public()
        for tenant in two_tenants:
            in_tenant(tenant, lambda: OutboxEvent.objects.all().delete())


def rows(tenant):
    return in_tenant(
        tenant,
        lambda: list(
            OutboxEvent.objects.values_list("id", "topic", "attempts", "delivered_at", "last_error")
        ),
    )


def add_rows(tenant, count):
    """Undelivered events written straight to the table (no relay is enqueued for them)."""
    start = timezone.now()

    def run():
        return [
            str(event.pk)
            for event in OutboxEvent.objects.bulk_create(
                OutboxEvent(
                    topic="test.numbered",
                    payload={"n": n},
                    created_at=start + dt.timedelta(microseconds=n),
                )
                for n in range(count)
            )
        ]

    return in_tenant(tenant, run)


def relay_on_worker(tenant):
    result = relay_outbox.apply_async(
        headers={"_schema_name": tenant.schema_name}, ignore_result=False
    )
    return result.get(timeout=RESULT_TIMEOUT)


def event_ids(messages):
    return [message["event"]["id"] for message in messages]


# --- emit ---------------------------------------------------------------------------------------


def test_emit_refuses_the_public_schema(committed):
    with transaction.atomic(), pytest.raises(TenantRequiredError):
        outbox.emit("test.public", {})


@pytest.mark.parametrize(
    ("topic", "atomic", "code"),
    [("test.outside", False, "outbox.misuse"), ("NotDotted", True, "outbox.misuse")],
    ids=["outside-a-transaction", "bad-topic"],
)
def test_emit_refuses_misuse_and_writes_nothing(committed, topic, atomic, code):
    mall, _ = committed

    def run():
        if atomic:
            with transaction.atomic():
                outbox.emit(topic, {})
        else:
            outbox.emit(topic, {})

    with pytest.raises(outbox.OutboxUsageError) as refused:
        in_tenant(mall, run)
    assert (refused.value.code, rows(mall)) == (code, [])


def test_emit_many_stores_each_payload_as_emit_does(committed):
    """The set-based writer encodes payloads itself (orjson): what it stores is what the
    model's JSONField stores through `emit`, dates, decimals, UUIDs and lazy texts included,
    and the events keep their order."""
    mall, _ = committed
    payload = {
        "at": dt.datetime(2026, 12, 7, 15, 4, 5, 123456, tzinfo=dt.UTC),
        "local": dt.datetime(2026, 12, 7, 23, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        "day": dt.date(2026, 12, 7),
        "amount": Decimal("12.30"),
        "id": uuid.UUID(int=7),
        "label": gettext_lazy("Points"),
        "text": '奶茶 "双份" \\ 半糖\n',
        "nested": {"list": [1, None, True, "x"], "n": 2**53},
    }

    def run():
        with transaction.atomic():
            outbox.emit("test.one", payload)
        with transaction.atomic():
            outbox.emit_many([("test.many", payload), ("test.many", {"second": 2})])
        return list(OutboxEvent.objects.order_by("created_at").values_list("topic", "payload"))

    (_, one), (_, first), (_, second) = in_tenant(mall, run)
    assert first == one
    assert one["at"] == "2026-12-07T15:04:05.123Z"
    assert one["amount"] == "12.30"
    assert second == {"second": 2}


# --- delivery through the worker ----------------------------------------------------------------


def test_an_event_is_delivered_once_to_its_own_tenant_only(committed, celery_worker):
    mall_a, mall_b = committed
    payload = {"member_id": "m-1", "points": 5, "amount": "12.30"}

    async def scenario():
        a = await GroupListener.subscribe([console_group(mall_a.schema_name)])
        b = await GroupListener.subscribe([console_group(mall_b.schema_name)])
        event_id = await run_sync(emit_committed, mall_a, "loyalty.points_changed", payload)
        return event_id, await a.drain(expect=1), await b.drain(quiet=0.5)

    event_id, to_a, to_b = async_to_sync(scenario)()

    [(row_id, topic, attempts, _, last_error)] = wait_until(
        lambda: [row for row in rows(mall_a) if row[3] is not None]
    )
    created_at = in_tenant(mall_a, lambda: OutboxEvent.objects.get(pk=event_id).created_at)
    assert (str(row_id), topic, attempts, last_error) == (event_id, "loyalty.points_changed", 1, "")
    assert to_a == [
        {
            "type": "outbox.event",
            "event": {
                "id": event_id,
                "topic": "loyalty.points_changed",
                "payload": payload,
                "created_at": created_at.isoformat(),
            },
        }
    ]
    assert (to_b, rows(mall_b)) == ([], [])
    celery_worker.wait_idle()


@pytest.mark.usefixtures("celery_worker")
def test_an_event_of_a_rolled_back_transaction_is_never_delivered(committed):
    mall, _ = committed

    def emit_then_fail():
        with transaction.atomic():
            outbox.emit("test.rolled_back", {"n": 1})
            transaction.set_rollback(True)  # the change it announced failed

    async def scenario():
        listener = await GroupListener.subscribe([console_group(mall.schema_name)])
        await run_sync(in_tenant, mall, emit_then_fail)
        relayed = await run_sync(relay_on_worker, mall)
        return relayed, await listener.drain(quiet=1.0)

    relayed, messages = async_to_sync(scenario)()
    assert (relayed, messages, rows(mall)) == ({"delivered": 0, "failed": 0}, [], [])


@pytest.mark.usefixtures("celery_worker")
def test_two_relays_at_once_deliver_every_event_exactly_once(committed):
    mall, _ = committed
    created = add_rows(mall, 150)

    async def scenario():
        listener = await GroupListener.subscribe([console_group(mall.schema_name)])
        schema = {"_schema_name": mall.schema_name}
        # Two relays on the worker's two threads, and a third one here, all at once.
        on_worker = [relay_outbox.apply_async(headers=schema, ignore_result=False) for _ in "ab"]
        here = await run_sync(in_tenant, mall, outbox.relay_pending)
        results = [await run_sync(r.get, RESULT_TIMEOUT) for r in on_worker]
        results.append({"delivered": here.delivered, "failed": here.failed})
        return results, await listener.drain(expect=len(created), quiet=1.0)

    results, messages = async_to_sync(scenario)()
    assert sum(r["delivered"] for r in results) == 150
    assert sum(r["failed"] for r in results) == 0
    assert sorted(event_ids(messages)) == sorted(created)
    assert {
        (attempts, delivered_at is not None) for _, _, attempts, delivered_at, _ in rows(mall)
    } == {(1, True)}


def test_a_relay_skips_events_another_relay_holds(committed):
    """Deterministic SKIP LOCKED: a held row is neither delivered nor waited for."""
    mall, _ = committed
    first, second, third = add_rows(mall, 3)
    held, release, delivered = threading.Event(), threading.Event(), []

    def hold_oldest():
        try:
            with transaction.atomic():
                in_tenant(mall, outbox.claim_next)
                held.set()
                release.wait(10)
                transaction.set_rollback(True)  # as if the holder died before marking
        finally:
            connection.close()

    def record(envelope):
        delivered.append(envelope.id)

    holder = threading.Thread(target=hold_oldest)
    holder.start()
    assert held.wait(10)
    while_held = in_tenant(mall, outbox.relay_pending, handlers=[record])
    release.set()
    holder.join()
    after = in_tenant(mall, outbox.relay_pending, handlers=[record])

    assert (while_held, after) == (
        outbox.RelayResult(delivered=2, failed=0),
        outbox.RelayResult(delivered=1, failed=0),
    )
    assert delivered == [second, third, first]


DYING_RELAY = """
import os, signal
import django
django.setup()
from django_tenants.utils import schema_context
from atrium import outbox
from atrium.realtime import push_event

def die(envelope):
    os.kill(os.getpid(), signal.SIGKILL)  # after the first push went out, before the commit

with schema_context(os.environ["RELAY_SCHEMA"]):
    outbox.relay_pending(handlers=[push_event, die])
"""


def run_dying_relay(env, schema):
    """A relay process that pushes the first event, then dies before marking it delivered."""
    process = subprocess.run(
        [sys.executable, "-c", DYING_RELAY],
        cwd=REPO,
        env={**env, "RELAY_SCHEMA": schema, "PGAPPNAME": "atrium-dying-relay"},
        capture_output=True,
        timeout=60,
    )
    assert process.returncode == -9, process.stderr.decode()

    def backend_gone():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'atrium-dying-relay'"
            )
            return cursor.fetchone()[0] == 0

    wait_until(backend_gone)  # PostgreSQL rolled the dead relay's transaction back


@pytest.mark.slow
def test_a_relay_that_dies_mid_delivery_leaves_the_event_for_the_next_run(committed, celery_worker):
    mall, _ = committed
    first, second = add_rows(mall, 2)

    async def scenario():
        listener = await GroupListener.subscribe([console_group(mall.schema_name)])
        await run_sync(run_dying_relay, celery_worker.env, mall.schema_name)
        after_death = await run_sync(rows, mall)
        relayed = await run_sync(relay_on_worker, mall)
        return after_death, relayed, await listener.drain(expect=3, quiet=1.0)

    after_death, relayed, messages = async_to_sync(scenario)()

    # The dead relay's push went out, but its transaction did not: nothing marked, no attempt.
    assert sorted((str(i), a, d) for i, _, a, d, _ in after_death) == sorted(
        [(first, 0, None), (second, 0, None)]
    )
    assert relayed == {"delivered": 2, "failed": 0}
    # At least once to the channel layer (the socket consumer drops the repeat, see
    # tests/isolation/test_websockets.py), exactly once in the table.
    assert event_ids(messages) == [first, first, second]
    assert {
        (attempts, delivered_at is not None) for _, _, attempts, delivered_at, _ in rows(mall)
    } == {(1, True)}


# --- failures, the sweep, pruning ---------------------------------------------------------------


def test_a_failing_handler_leaves_the_event_undelivered_with_its_error(committed, settings):
    mall, _ = committed
    [event_id] = add_rows(mall, 1)

    def broken(envelope):
        raise ConnectionError("redis is down")

    first = in_tenant(mall, outbox.relay_pending, handlers=[broken])
    assert first == outbox.RelayResult(delivered=0, failed=1)
    assert rows(mall) == [
        (uuid.UUID(event_id), "test.numbered", 1, None, "ConnectionError: redis is down")
    ]

    settings.OUTBOX_MAX_ATTEMPTS = 1  # a row that used up its attempts stays for a human
    assert in_tenant(mall, outbox.relay_pending, handlers=[]) == outbox.RelayResult(0, 0)


def test_the_sweep_relays_every_active_tenant_and_skips_suspended_ones(
    committed, make_committed_tenant, celery_worker
):
    active, suspended = committed[0], make_committed_tenant()
    add_rows(active, 2)
    add_rows(suspended, 2)
    suspend_tenant(tenant=suspended)

    sent = fan_out.apply_async(
        kwargs={"task_name": "atrium.outbox.relay", "spread_seconds": 0.5}, ignore_result=False
    ).get(timeout=RESULT_TIMEOUT)

    assert sent == len(list_active_schema_names())
    assert active.schema_name in list_active_schema_names()
    assert suspended.schema_name not in list_active_schema_names()
    wait_until(lambda: all(row[3] is not None for row in rows(active)))
    celery_worker.wait_idle()
    assert [row[3] for row in rows(suspended)] == [None, None]


def test_prune_deletes_only_delivered_events_past_the_retention(committed):
    mall, _ = committed
    old, recent, pending = add_rows(mall, 3)
    now = timezone.now()

    def age():
        OutboxEvent.objects.filter(pk=old).update(delivered_at=now - dt.timedelta(days=8))
        OutboxEvent.objects.filter(pk=recent).update(delivered_at=now - dt.timedelta(days=6))
        return outbox.prune_delivered(older_than_days=7)

    assert in_tenant(mall, age) == 1
    assert sorted(str(row[0]) for row in rows(mall)) == sorted([recent, pending])


def test_the_relay_refuses_the_public_schema(committed):
    with pytest.raises(TenantRequiredError):
        outbox.relay_pending()
