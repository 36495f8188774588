"""Websockets: a socket hears its own tenant's events (and its own audience's), never another's.

Sockets go through the real ASGI app (our tenant middleware, the consumers) and the real
channels-redis layer; events travel emit -> commit -> Celery worker relay -> group -> socket.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, transaction
from django.test import override_settings

from apps.accounts.choices import StaffRole, SubjectKind
from apps.accounts.services import invite_staff
from apps.members.services import create_member
from apps.merchants.services import create_merchant
from atrium.models import OutboxEvent
from atrium.outbox import EventEnvelope
from atrium.realtime import TenantConsumer, push_event
from tenants.services import suspend_tenant
from tests.celery_worker import PASSWORD, in_tenant, wait_until
from tests.realtime import (
    WebsocketCommunicator,
    access_token,
    connect_socket,
    emit_committed,
    host_of,
    owner_token,
    run_sync,
)

EVENT_TIMEOUT = 20  # emit -> worker -> socket


@pytest.fixture(scope="module")
def two_tenants(module_committed_tenants):
    return module_committed_tenants(), module_committed_tenants()


@pytest.fixture
def malls(two_tenants, django_db_blocker):
    with django_db_blocker.unblock():
        yield two_tenants
        connection.set_schema_to_public()


def created_at_of(tenant, event_id):
    return in_tenant(tenant, lambda: OutboxEvent.objects.get(pk=event_id).created_at.isoformat())


def frame(tenant, event_id, topic, payload):
    return {
        "type": "event",
        "id": event_id,
        "topic": topic,
        "payload": payload,
        "created_at": created_at_of(tenant, event_id),
    }


def merchant_with_cashier(tenant, name):
    def run():
        with transaction.atomic():
            merchant = create_merchant(name=name)
            cashier = invite_staff(
                username=f"cashier-{name.lower()}",
                role=StaffRole.MERCHANT_CASHIER,
                merchant=merchant,
                password=PASSWORD,
            ).staff
        return merchant, cashier

    return in_tenant(tenant, run)


def new_member(tenant, name):
    return in_tenant(tenant, lambda: create_member(display_name=name))


async def open_ready(path, tenant, token):
    socket, first = await connect_socket(path, host=host_of(tenant), token=token)
    assert first == {"type": "websocket.send", "text": '{"type": "ready"}'}
    return socket


# --- tenants ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("celery_worker")
def test_a_console_socket_hears_its_tenants_events_and_not_another_tenants(malls):
    mall_a, mall_b = malls
    token_a, token_b = owner_token(mall_a), owner_token(mall_b)

    async def scenario():
        socket_a = await open_ready("/ws/console/", mall_a, token_a)
        socket_b = await open_ready("/ws/console/", mall_b, token_b)
        in_a = await run_sync(emit_committed, mall_a, "test.in_a", {"n": 1})
        heard_by_a = await socket_a.receive_json_from(timeout=EVENT_TIMEOUT)
        b_heard_nothing = await socket_b.receive_nothing(timeout=1)
        in_b = await run_sync(emit_committed, mall_b, "test.in_b", {"n": 2})
        heard_by_b = await socket_b.receive_json_from(timeout=EVENT_TIMEOUT)
        a_heard_nothing = await socket_a.receive_nothing(timeout=1)
        await socket_a.disconnect()
        await socket_b.disconnect()
        return in_a, heard_by_a, b_heard_nothing, in_b, heard_by_b, a_heard_nothing

    in_a, heard_by_a, b_heard_nothing, in_b, heard_by_b, a_heard_nothing = async_to_sync(scenario)()
    assert heard_by_a == frame(mall_a, in_a, "test.in_a", {"n": 1})
    assert heard_by_b == frame(mall_b, in_b, "test.in_b", {"n": 2})
    assert (b_heard_nothing, a_heard_nothing) == (True, True)


@pytest.mark.usefixtures("celery_worker")
def test_merchant_and_member_sockets_hear_only_the_events_that_name_them(malls):
    mall, _ = malls
    (shop, cashier), (other_shop, _) = (
        merchant_with_cashier(mall, "One"),
        merchant_with_cashier(mall, "Two"),
    )
    member, other_member = new_member(mall, "Lin"), new_member(mall, "Wang")
    # Their members.joined events are relayed by the worker before any socket opens.
    wait_until(
        lambda: (
            not in_tenant(
                mall, lambda: OutboxEvent.objects.filter(delivered_at__isnull=True).exists()
            )
        )
    )
    cashier_token = access_token(mall, subject_kind=SubjectKind.STAFF, subject_id=cashier.pk)
    member_token = access_token(mall, subject_kind=SubjectKind.MEMBER, subject_id=member.pk)
    not_theirs = {"merchant_id": str(other_shop.pk), "member_id": str(other_member.pk)}
    theirs = {"merchant_id": str(shop.pk), "member_id": str(member.pk), "points": 7}
    console_token = owner_token(mall)

    async def scenario():
        console = await open_ready("/ws/console/", mall, console_token)
        merchant_socket = await open_ready("/ws/merchant/", mall, cashier_token)
        member_socket = await open_ready("/ws/member/", mall, member_token)
        first = await run_sync(emit_committed, mall, "test.not_theirs", not_theirs)
        second = await run_sync(emit_committed, mall, "test.theirs", theirs)
        console_heard = [await console.receive_json_from(timeout=EVENT_TIMEOUT) for _ in "12"]
        merchant_heard = await merchant_socket.receive_json_from(timeout=EVENT_TIMEOUT)
        member_heard = await member_socket.receive_json_from(timeout=EVENT_TIMEOUT)
        quiet = [
            await s.receive_nothing(timeout=0.5) for s in (console, merchant_socket, member_socket)
        ]
        for s in (console, merchant_socket, member_socket):
            await s.disconnect()
        return first, second, console_heard, merchant_heard, member_heard, quiet

    first, second, console_heard, merchant_heard, member_heard, quiet = async_to_sync(scenario)()
    expected = frame(mall, second, "test.theirs", theirs)
    assert sorted(console_heard, key=lambda f: f["topic"]) == [
        frame(mall, first, "test.not_theirs", not_theirs),
        expected,
    ]
    assert (merchant_heard, member_heard, quiet) == (expected, expected, [True, True, True])


def test_a_socket_forwards_an_event_delivered_twice_only_once(malls):
    """At-least-once relay, once on the socket: the consumer drops a repeated event id."""
    mall, _ = malls
    envelope = EventEnvelope(
        id="0f5c3e4a-8d7b-4d39-9a51-3f6a2b1c0d9e",
        schema=mall.schema_name,
        topic="test.repeated",
        payload={"n": 1},
        created_at="2026-01-01T00:00:00+00:00",
    )

    token = owner_token(mall)

    async def scenario():
        socket = await open_ready("/ws/console/", mall, token)
        await run_sync(push_event, envelope)
        await run_sync(push_event, envelope)
        heard = await socket.receive_json_from(timeout=5)
        nothing_more = await socket.receive_nothing(timeout=1)
        await socket.disconnect()
        return heard, nothing_more

    heard, nothing_more = async_to_sync(scenario)()
    assert heard == {"type": "event", **envelope.as_message()}
    assert nothing_more is True


def test_a_consumer_checks_tokens_in_its_own_schema_whatever_its_thread_was_doing(malls):
    mall_a, mall_b = malls
    token_a = owner_token(mall_a)
    connection.set_tenant(mall_b)  # the thread that runs the consumer's queries sits in B

    async def scenario():
        socket = await open_ready("/ws/console/", mall_a, token_a)
        await socket.disconnect()

    async_to_sync(scenario)()
    assert connection.schema_name == mall_b.schema_name  # and was put back


def member_with_short_token(mall, name, seconds):
    """A new member, an access token of theirs that lives `seconds`, and an event naming them."""
    member = new_member(mall, name)
    with override_settings(ACCESS_TOKEN_TTL_SECONDS=seconds):
        token = access_token(mall, subject_kind=SubjectKind.MEMBER, subject_id=member.pk)
    envelope = EventEnvelope(
        id=str(uuid.uuid4()),
        schema=mall.schema_name,
        topic="loyalty.points_changed",
        payload={"member_id": str(member.pk), "points": 5},
        created_at="2026-01-01T00:00:00+00:00",
    )
    return token, envelope


def test_a_socket_closes_when_the_token_that_opened_it_expires(malls):
    """A socket carries the same personal data as its token's HTTP calls: it lives no longer
    than that token, closing with 4401 (the clients then open a new one with a fresh token)."""
    mall, _ = malls
    token, envelope = member_with_short_token(mall, "Expiring", seconds=2)

    async def scenario():
        socket = await open_ready("/ws/member/", mall, token)
        await run_sync(push_event, envelope)
        heard = await socket.receive_json_from(timeout=5)
        opened = time.monotonic()
        closing = await socket.receive_output(timeout=5)
        return heard, closing, time.monotonic() - opened

    with override_settings(ACCESS_TOKEN_TTL_SECONDS=2):
        heard, closing, waited = async_to_sync(scenario)()
    assert heard == {"type": "event", **envelope.as_message()}
    assert closing == closed(4401)
    assert 0.5 < waited < 3.0


def test_an_event_after_the_expiry_closes_the_socket_instead_of_going_out(malls, monkeypatch):
    """Should an event come between the token's expiry and its timer, the socket closes and
    the event is not sent."""
    mall, _ = malls
    token, envelope = member_with_short_token(mall, "Late", seconds=1)

    async def late_timer(self):
        await asyncio.sleep(60)

    monkeypatch.setattr(TenantConsumer, "_close_when_expired", late_timer)

    async def scenario():
        socket = await open_ready("/ws/member/", mall, token)
        await asyncio.sleep(1.5)
        await run_sync(push_event, envelope)
        return await socket.receive_output(timeout=5)

    with override_settings(ACCESS_TOKEN_TTL_SECONDS=1):
        assert async_to_sync(scenario)() == closed(4401)


# --- refusals -----------------------------------------------------------------------------------


def closed(code):
    return {"type": "websocket.close", "code": code}


def test_a_token_of_another_tenant_opens_nothing(malls):
    mall_a, mall_b = malls
    token_a = owner_token(mall_a)

    async def scenario():
        _, first = await connect_socket("/ws/console/", host=host_of(mall_b), token=token_a)
        return first

    assert async_to_sync(scenario)() == closed(4401)


@pytest.mark.parametrize(
    ("path", "who"),
    [
        ("/ws/console/", "member"),
        ("/ws/console/", "cashier"),
        ("/ws/merchant/", "owner"),
        ("/ws/merchant/", "member"),
        ("/ws/member/", "owner"),
    ],
)
def test_a_token_for_another_surface_is_refused(malls, path, who):
    mall, _ = malls
    if who == "owner":
        token = owner_token(mall)
    elif who == "member":
        member = new_member(mall, "Zhao")
        token = access_token(mall, subject_kind=SubjectKind.MEMBER, subject_id=member.pk)
    else:
        _, cashier = merchant_with_cashier(mall, f"S{path.strip('/').replace('/', '')}{who}")
        token = access_token(mall, subject_kind=SubjectKind.STAFF, subject_id=cashier.pk)

    async def scenario():
        _, first = await connect_socket(path, host=host_of(mall), token=token)
        return first

    assert async_to_sync(scenario)() == closed(4401)


@pytest.mark.parametrize(
    "first_message",
    [
        {"type": "auth", "token": "not-a-token"},
        {"type": "auth"},
        {"type": "ping"},
        "not json",
    ],
    ids=["bad-token", "no-token", "not-auth", "not-json"],
)
def test_an_unauthenticated_socket_is_closed_with_4401(malls, first_message):
    mall, _ = malls

    async def scenario():
        socket, _ = await _accepted_without_token(mall)
        if isinstance(first_message, str):
            await socket.send_text_to(first_message)
        else:
            await socket.send_json_to(first_message)
        return await socket.receive_output(timeout=5)

    assert async_to_sync(scenario)() == closed(4401)


async def _accepted_without_token(mall):
    """A socket opened without a token: accepted, waiting for the auth message."""
    from atrium.asgi import application

    socket = WebsocketCommunicator(
        application, "/ws/console/", headers=[(b"host", host_of(mall).encode())]
    )
    connected, _ = await socket.connect(timeout=10)
    assert connected
    return socket, await socket.receive_nothing(timeout=0.2)


def test_a_bad_query_token_is_refused(malls):
    mall, _ = malls

    async def scenario():
        _, first = await connect_socket("/ws/console/", host=host_of(mall), token="forged")
        return first

    assert async_to_sync(scenario)() == closed(4401)


def test_a_socket_that_never_authenticates_is_closed(malls, monkeypatch):
    mall, _ = malls
    monkeypatch.setattr(TenantConsumer, "auth_timeout_seconds", 0.6)

    async def scenario():
        socket, silent = await _accepted_without_token(mall)
        return silent, await socket.receive_output(timeout=5)

    assert async_to_sync(scenario)() == (True, closed(4401))


def test_authenticating_with_the_first_message_then_ping(malls):
    mall, _ = malls
    token = owner_token(mall)

    async def scenario():
        socket, _ = await _accepted_without_token(mall)
        await socket.send_json_to({"type": "auth", "token": token})
        ready = await socket.receive_json_from(timeout=5)
        await socket.send_json_to({"type": "ping"})
        pong = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return ready, pong

    assert async_to_sync(scenario)() == ({"type": "ready"}, {"type": "pong"})


def test_an_unknown_host_is_refused_with_4404(malls):
    async def scenario():
        _, first = await connect_socket("/ws/console/", host="nowhere.atrium.test", token="x")
        return first

    assert async_to_sync(scenario)() == closed(4404)


def test_a_suspended_tenant_is_refused_with_4403(make_committed_tenant, django_db_blocker):
    with django_db_blocker.unblock():
        mall = make_committed_tenant()
        token = owner_token(mall)
        suspend_tenant(tenant=mall)

        async def scenario():
            _, first = await connect_socket("/ws/console/", host=host_of(mall), token=token)
            return first

        assert async_to_sync(scenario)() == closed(4403)
