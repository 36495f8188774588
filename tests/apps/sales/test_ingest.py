"""The POS ingest (apps.sales.ingest, docs/adr/0022): it answers POS sale calls as Django's
request path would, byte for byte, writes the calls it takes together in one group per tenant,
and leaves every call it does not take to Django, untouched.

Every case of tests/apps/sales/test_pos_api.py also runs through the ingest (its `pos` fixture);
here: the answers side by side, a take of several calls, and a live uvicorn server with its
writer thread, on committed data."""

import http.client
import itertools
import json
import threading
import time
from decimal import Decimal

import pytest
import uvicorn
from django.core.asgi import get_asgi_application
from django.db import connection
from django_tenants.utils import tenant_context

from apps.merchants.services import create_api_key, create_merchant, revoke_api_key
from apps.sales.ingest import PosIngest, Writers, _Pending, answer_calls, request_of
from apps.sales.locks import _sale_key
from apps.sales.models import Sale
from tests.apps.sales.conftest import Pos, ingest_scope, sale_body, table_counts
from tests.apps.sales.test_group_commit import _until
from tests.conftest import host_of, signed_headers

SALES = "/api/integration/v1/sales"
WAIT = 20.0


@pytest.fixture
def stamps():
    """Distinct timestamps inside the window (two identical bodies in one second would be a
    replay), falling from now."""
    return itertools.count(int(time.time()), -1)


def _signed(shop, body, stamp, **extra):
    raw = json.dumps(body).encode()
    return raw, {**signed_headers(shop.key_id, shop.secret, "POST", SALES, raw, stamp), **extra}


def _both(shop, make_body, stamps, **extra):
    """The same call (its body from `make_body(via)`) through Django and through the ingest."""
    answers = {}
    for via in ("django", "ingest"):
        pos = Pos(shop, via=via)
        raw, headers = _signed(shop, make_body(via), next(stamps), **extra)
        answers[via] = (pos.send(SALES, raw, headers), pos.taken)
    return answers


def _headers(response):
    return sorted((name.lower(), value) for name, value in response.headers.items())


CASES = [
    pytest.param({"member": {"code": "999999999999"}}, {}, 404, 1, id="unknown member code"),
    pytest.param({"total": "12.345"}, {}, 400, 1, id="bad amount"),
    pytest.param(
        {"member": {"code": "999999999999"}},
        {"Accept-Language": "en-US,en;q=0.9"},
        404,
        1,
        id="in English",
    ),
    pytest.param({"total": 128.5}, {}, 422, 0, id="invalid body: left to Django"),
    pytest.param({}, {"X-Atrium-Key": "ak_unknown"}, 401, 0, id="unknown key: left to Django"),
]


@pytest.mark.parametrize(("change", "extra", "status", "taken"), CASES)
def test_an_answer_is_the_one_django_gives_byte_for_byte(
    shop, mall_a, stamps, change, extra, status, taken
):
    counts = table_counts(mall_a)
    extra = {"X-Request-ID": "req-0123456789", **extra}
    answers = _both(shop, lambda via: {**sale_body("T-same"), **change}, stamps, **extra)
    (django, _), (ingest, ingest_taken) = answers["django"], answers["ingest"]
    assert (ingest.status_code, ingest_taken) == (status, taken)
    assert (ingest.status_code, ingest.content) == (django.status_code, django.content)
    assert _headers(ingest) == _headers(django)
    assert table_counts(mall_a) == counts


def test_a_recorded_sale_answers_with_django_s_headers_and_shape(shop, mall_a, member, stamps):
    answers = _both(
        shop,
        lambda via: sale_body(
            f"T-{via}", total="20.00", member={"member_no": member.member.member_no}
        ),
        stamps,
        **{"X-Request-ID": "req-0123456789", "Accept-Language": "en"},
    )
    (django, _), (ingest, taken) = answers["django"], answers["ingest"]
    assert (django.status_code, ingest.status_code, taken) == (201, 201, 1)
    assert _headers(ingest) == _headers(django)
    first, second = django.json(), ingest.json()
    assert list(second) == list(first)  # the same keys in the same order
    assert {
        k: (first[k], second[k]) for k in ("external_id", "points_earned", "points_balance")
    } == {
        "external_id": ("T-django", "T-ingest"),
        "points_earned": (20, 20),
        "points_balance": (20, 40),
    }
    with tenant_context(mall_a):
        assert set(Sale.objects.values_list("external_id", flat=True)) == {"T-django", "T-ingest"}
        assert str(Sale.objects.get(external_id="T-ingest").pk) == second["sale_id"]
    connection.set_schema_to_public()


def test_a_redirect_to_https_is_left_to_django(shop, stamps, settings):
    settings.SECURE_SSL_REDIRECT = True
    answers = _both(shop, lambda via: sale_body(f"T-{via}"), stamps)
    (django, _), (ingest, taken) = answers["django"], answers["ingest"]
    assert (django.status_code, ingest.status_code, taken) == (301, 301, 0)
    assert ingest["Location"] == django["Location"] == f"https://mall-a.atrium.test{SALES}"


def test_a_take_answers_each_call_on_its_own_across_merchants_and_malls(
    shop, other_shop, mall_a, mall_b, make_merchant, member, stamps
):
    far_shop = make_merchant(mall_b, name="Far Shop")
    calls = [
        (shop, sale_body("T-1", total="10.00", member={"member_no": member.member.member_no})),
        (other_shop, sale_body("T-1", total="20.00")),  # the same till id at another merchant
        (shop, sale_body("T-bad", member={"code": "999999999999"})),
        (far_shop, sale_body("T-far", total="30.00")),
    ]
    signed = [(s, *_signed(s, body, next(stamps))) for s, body in calls]
    signed.append(signed[0])  # the first call again, in the same take: a replay
    hosts = [host_of("mall-b") if s is far_shop else host_of("mall-a") for s, _, _ in signed]
    requests = [
        request_of(ingest_scope(host, SALES, raw, headers), raw)
        for host, (_, raw, headers) in zip(hosts, signed, strict=True)
    ]
    answers = answer_calls(requests)
    connection.set_schema_to_public()
    assert [a.status_code if a else None for a in answers] == [201, 201, 404, 201, None]
    bodies = [json.loads(a.content) for a in answers[:4]]
    assert [b.get("points_balance", b.get("code")) for b in bodies] == [
        10,
        None,
        "members.code_invalid",
        None,
    ]
    # Django answers the call left to it: the replay is refused, nothing is written twice.
    replay = Pos(shop).send(SALES, signed[4][1], signed[4][2])
    assert (replay.status_code, replay.json()["code"]) == (401, "auth.signature_replayed")
    with tenant_context(mall_a):
        assert sorted(Sale.objects.values_list("external_id", "total")) == [
            ("T-1", Decimal("10.00")),
            ("T-1", Decimal("20.00")),
        ]
    with tenant_context(mall_b):
        assert list(Sale.objects.values_list("external_id", flat=True)) == ["T-far"]
    connection.set_schema_to_public()


def test_a_call_whose_body_cannot_be_read_is_left_to_django_and_fails_no_other(
    shop, mall_a, stamps
):
    # JSON nested deeper than Python's recursion limit: the parser raises RecursionError, which
    # is no ValueError. Raised from one call's preparation it failed the whole take, and every
    # till in it got a bare 500.
    nested = b'{"external_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    deep_headers = signed_headers(shop.key_id, shop.secret, "POST", SALES, nested, next(stamps))
    raw, headers = _signed(shop, sale_body("T-fine", total="10.00"), next(stamps))
    answers = answer_calls(
        [
            request_of(ingest_scope(host_of("mall-a"), SALES, nested, deep_headers), nested),
            request_of(ingest_scope(host_of("mall-a"), SALES, raw, headers), raw),
        ]
    )
    connection.set_schema_to_public()
    assert answers[0] is None  # left to Django, with no mark: it answers 400 below
    assert answers[1] is not None
    assert (answers[1].status_code, json.loads(answers[1].content)["external_id"]) == (
        201,
        "T-fine",
    )
    refused = Pos(shop).send(SALES, nested, deep_headers)
    assert (refused.status_code, refused.json()["code"]) == (400, "request.malformed")
    with tenant_context(mall_a):
        assert list(Sale.objects.values_list("external_id", flat=True)) == ["T-fine"]
    connection.set_schema_to_public()


def test_a_revoked_key_is_left_to_django_with_no_mark(shop, mall_a, stamps):
    pos = Pos(shop, via="ingest")
    assert pos.sale(sale_body("T-warm")).status_code == 201  # the key is now in the keyring
    with tenant_context(mall_a):
        revoke_api_key(api_key=shop.merchant.api_keys.get(key_id=shop.key_id))
    connection.set_schema_to_public()
    raw, headers = _signed(shop, sale_body("T-after"), next(stamps))
    (answer,) = answer_calls(
        [request_of(ingest_scope(host_of("mall-a"), SALES, raw, headers), raw)]
    )
    connection.set_schema_to_public()
    assert answer is None
    refused = Pos(shop).send(SALES, raw, headers)  # not refused as a replay: no mark was left
    assert (refused.status_code, refused.json()["code"]) == (401, "auth.api_key_revoked")


def test_a_suspended_mall_s_calls_are_left_to_django(shop, mall_a, stamps):
    mall_a.status = "suspended"
    mall_a.save(update_fields=["status"])
    from tenants.selectors import forget_routes

    forget_routes(mall_a)
    answers = _both(shop, lambda via: sale_body(f"T-{via}"), stamps)
    (django, _), (ingest, taken) = answers["django"], answers["ingest"]
    assert (ingest.status_code, ingest.json()["code"], taken) == (403, "tenant.suspended", 0)
    assert ingest.content == django.content


# --- a live server: uvicorn, the writer thread, Django's ASGI app for the rest ------------------


class LiveIngest:
    def __init__(self, writers):
        self.writers = writers
        app = PosIngest(get_asgi_application(), writers)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + WAIT
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        (socket,) = self.server.servers[0].sockets
        self.port = socket.getsockname()[1]
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(WAIT)

    def post(self, host, raw, headers):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)
        try:
            conn.request("POST", SALES, body=raw, headers={"Host": host, **headers})
            response = conn.getresponse()
            return response.status, json.loads(response.read())
        finally:
            conn.close()


def test_a_live_ingest_writes_queued_calls_as_one_group_and_hands_the_rest_to_django(
    committed_tenant, django_db_blocker, holder
):
    with django_db_blocker.unblock():
        with tenant_context(committed_tenant):
            shops = []
            for index in range(3):
                merchant = create_merchant(name=f"Live Shop {index}")
                shops.append((merchant, create_api_key(merchant=merchant)))
            first_lock = _sale_key(shops[0][0].pk, "L-0")
        connection.set_schema_to_public()
        host = host_of(committed_tenant.slug)
        stamp = int(time.time())

        def call(index, answers):
            _, issued = shops[index % 3]
            body = sale_body(f"L-{index}", total=f"{10 + index}.00")
            raw = json.dumps(body).encode()
            headers = signed_headers(
                issued.api_key.key_id, issued.secret, "POST", SALES, raw, stamp
            )
            answers[index] = live.post(host, raw, {"Content-Type": "application/json", **headers})

        writers = Writers(count=1)
        answers = {}
        # The first sale's lock is held: the writer waits in its first group while the other
        # calls queue, then takes them all at once.
        holder.lock(first_lock)
        with LiveIngest(writers) as live:
            threads = [threading.Thread(target=call, args=(0, answers))]
            threads[0].start()
            _until(lambda: writers.calls == 1 and holder.waiting(), "the first sale waiting")
            threads += [threading.Thread(target=call, args=(i, answers)) for i in range(1, 30)]
            for thread in threads[1:]:
                thread.start()
            _until(lambda: len(writers._queue) == 29, "29 calls queued")
            holder.unlock(first_lock)
            for thread in threads:
                thread.join(WAIT)
            grouped = (writers.groups, writers.calls)
            # A call the fast path leaves (no signature) is answered by Django's ASGI app.
            unsigned = live.post(host, b"{}", {"Content-Type": "application/json"})
        assert not live.thread.is_alive()
        assert not any(t.is_alive() for t in writers._threads)

        assert sorted(answers) == list(range(30))
        assert {status for status, _ in answers.values()} == {201}
        assert grouped == (2, 30)  # the first call alone, then the 29 queued behind it
        assert unsigned == (
            401,
            {
                "code": "auth.unauthenticated",
                "message": "authentication credentials are missing or invalid",
                "extra": {},
            },
        )
        with tenant_context(committed_tenant):
            recorded = dict(Sale.objects.values_list("external_id", "merchant_id"))
            assert recorded == {f"L-{i}": shops[i % 3][0].pk for i in range(30)}
            assert {answers[i][1]["sale_id"] for i in range(30)} == {
                str(pk) for pk in Sale.objects.values_list("pk", flat=True)
            }
        connection.set_schema_to_public()


def test_a_live_group_that_loses_its_connection_writes_each_sale_alone(
    committed_tenant, django_db_blocker, holder
):
    with django_db_blocker.unblock():
        with tenant_context(committed_tenant):
            merchant = create_merchant(name="Lost Shop")
            issued = create_api_key(merchant=merchant)
            lock = _sale_key(merchant.pk, "X-0")
        connection.set_schema_to_public()
        host = host_of(committed_tenant.slug)
        raw = json.dumps(sale_body("X-0", total="12.00")).encode()
        headers = signed_headers(issued.api_key.key_id, issued.secret, "POST", SALES, raw)
        answers = {}
        holder.lock(lock)
        with LiveIngest(Writers(count=1)) as live:
            thread = threading.Thread(
                target=lambda: answers.setdefault(0, live.post(host, raw, headers))
            )
            thread.start()
            _until(lambda: holder.waiting(), "the group's write waiting for the sale key")
            (writer_backend,) = holder.waiting()
            holder.terminate(writer_backend)  # the group's transaction is lost as a whole
            holder.unlock(lock)
            thread.join(WAIT)
        status, body = answers[0]
        assert (status, body["external_id"], body["points_earned"]) == (201, "X-0", 0)
        with tenant_context(committed_tenant):
            assert list(Sale.objects.values_list("external_id", flat=True)) == ["X-0"]
        connection.set_schema_to_public()


# --- a writer's take: it gathers the calls still arriving, a bounded time --------------------


def _arrive(writers, count, every):
    """`count` calls queued one after another, `every` seconds apart, from another thread."""

    def run():
        for _ in range(count):
            time.sleep(every)
            with writers._changed:
                writers._queue.append(_placeholder())
                writers._changed.notify_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _placeholder():
    return _Pending(scope={}, body=b"", loop=None, future=None)


def test_a_take_gathers_calls_while_they_keep_arriving_and_stops_at_a_quiet_gap():
    writers = Writers(gather_seconds=5.0, gather_gap=0.5)
    writers._queue.append(_placeholder())
    arriving = _arrive(writers, 3, every=0.05)
    started = time.monotonic()
    taken = writers._take()
    arriving.join()
    # Three more arrived, each within the gap; then nothing for half a second.
    assert len(taken) == 4
    assert 0.5 <= time.monotonic() - started < 3.0


def test_a_take_waits_no_longer_than_its_bound_while_calls_keep_coming():
    writers = Writers(gather_seconds=0.3, gather_gap=0.2)
    writers._queue.append(_placeholder())
    arriving = _arrive(writers, 40, every=0.05)  # two seconds of calls, 50 ms apart
    started = time.monotonic()
    taken = writers._take()
    waited = time.monotonic() - started
    arriving.join()
    assert 0.3 <= waited < 1.0
    assert 3 <= len(taken) <= 10


def test_without_gathering_a_take_is_what_is_queued():
    writers = Writers(gather_seconds=0.0)
    writers._queue.extend([_placeholder(), _placeholder()])
    assert len(writers._take()) == 2
    assert (writers.groups, writers.calls) == (1, 2)


def test_a_writer_whose_calls_another_took_while_it_gathered_waits_for_the_next():
    # Two writers share the queue, and gathering lets go of its lock: the other writer can
    # take every call meanwhile. The first must then wait for the next call, not end its thread
    # (an empty take ends it), which would leave the process one writer short for good.
    writers = Writers(gather_seconds=5.0, gather_gap=0.3)
    first, second = _placeholder(), _placeholder()
    writers._queue.append(first)
    taken: list[list[_Pending]] = []
    taking = threading.Thread(target=lambda: taken.append(writers._take()))
    taking.start()
    time.sleep(0.1)  # the take is gathering
    with writers._changed:
        assert list(writers._queue) == [first]
        writers._queue.popleft()  # what the other writer's take does
        writers._changed.notify_all()
    time.sleep(0.5)  # past the gathering gap: the take waits on
    assert taking.is_alive()
    with writers._changed:
        writers._queue.append(second)
        writers._changed.notify_all()
    taking.join(timeout=5)
    assert taken == [[second]]
    assert (writers.groups, writers.calls) == (1, 1)


def test_a_take_ends_only_when_the_writers_stop_with_nothing_queued():
    writers = Writers(gather_seconds=0.0)
    writers._queue.append(_placeholder())
    writers._stopping = True
    assert len(writers._take()) == 1  # what is queued is still answered
    assert writers._take() == []


def _taking(writers):
    taken: list[list[_Pending]] = []
    # A daemon: a take that never returns fails its test without holding pytest's exit.
    thread = threading.Thread(target=lambda: taken.append(writers._take()), daemon=True)
    thread.start()
    return thread, taken


def _queue(writers, pending):
    with writers._changed:
        writers._queue.append(pending)
        writers._changed.notify_all()


def test_while_a_writer_writes_the_calls_arriving_wait_to_be_written_together():
    # A spare does not take the calls that arrive while another writer writes: they queue up,
    # and the next take holds them all (each transaction costs a fixed part: ADR 0026).
    writers = Writers(spare_after=5.0)
    writers._queue.append(_placeholder())
    assert len(writers._take()) == 1  # this writer now writes
    spare, taken = _taking(writers)
    second, third = _placeholder(), _placeholder()
    _queue(writers, second)
    _queue(writers, third)
    time.sleep(0.3)
    assert spare.is_alive()
    assert taken == []
    writers._done()  # the first writer has answered its calls
    spare.join(timeout=5)
    assert taken == [[second, third]]
    assert (writers.groups, writers.calls, writers._writing) == (2, 3, 1)


def test_a_spare_takes_the_calls_that_waited_too_long_behind_a_slow_write():
    writers = Writers(spare_after=0.2)
    writers._queue.append(_placeholder())
    writers._take()  # this writer writes, and does not finish
    spare, taken = _taking(writers)
    late = _placeholder()
    started = time.monotonic()
    _queue(writers, late)
    spare.join(timeout=5)
    waited = time.monotonic() - started
    assert taken == [[late]]
    assert 0.2 <= waited < 2.0
    assert writers._writing == 2
