"""Group commit of concurrent POS sales, on real PostgreSQL with real threads: the calls that
queue while a sale is being written go into one transaction together, each sale still on its
own; a group that fails as a whole lets each of its calls record alone; a leader gathers the
calls still on their way, for a bounded time."""

import threading
import time

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import resolve
from django_tenants.utils import tenant_context

from apps.loyalty.models import JournalEntry, PointsAccount
from apps.loyalty.selectors import open_lots_balance, posted_balance
from apps.members.errors import MemberNotFoundError
from apps.members.services import create_member
from apps.merchants.services import create_merchant
from apps.sales.locks import _sale_key
from apps.sales.middleware import POS_SALES_PATH, PosSaleArrivalMiddleware
from apps.sales.models import Sale
from apps.sales.services import MemberRef, PaymentLine, SaleRequest
from apps.sales.services.group_commit import GroupCommit, group_commit
from atrium.errors import IdempotencyConflictError

WAIT = 20.0  # seconds a step may take before the test gives up


def _until(condition, what):
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Calls:
    """POS calls of one tenant made in threads of their own, each answering or failing."""

    def __init__(self, tenant, grouping):
        self.tenant, self.grouping = tenant, grouping
        self.outcomes, self.threads = {}, []

    def start(self, name, merchant, request, *, on_the_way=None, records=True):
        """`on_the_way`: an Event the call waits for, counted as arriving (as the POS middleware
        counts a request) until it records; `records=False`: it then ends without recording."""

        def record():
            if records:
                self.outcomes[name] = self.grouping.record(merchant=merchant, request=request)
            else:
                self.outcomes[name] = "refused before recording"

        def run():
            with tenant_context(self.tenant):
                try:
                    if on_the_way is None:
                        record()
                    else:
                        with self.grouping.arriving(self.tenant.schema_name):
                            assert on_the_way.wait(WAIT)
                            record()
                except Exception as exc:  # the call's own answer, checked by the test
                    self.outcomes[name] = exc
                finally:
                    connection.set_schema_to_public()
                    connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        self.threads.append(thread)

    def join(self):
        for thread in self.threads:
            thread.join(WAIT)
        assert not any(thread.is_alive() for thread in self.threads)


def _sale(external_id, total, member_no=None):
    return SaleRequest(
        external_id=external_id,
        occurred_at=None,
        total=total,
        payments=[PaymentLine("cash", total)],
        member_ref=MemberRef(member_no=member_no) if member_no else None,
    )


def test_calls_queued_behind_a_write_are_one_transaction_each_sale_on_its_own(
    committed_tenant, django_db_blocker, holder
):
    with django_db_blocker.unblock():
        with tenant_context(committed_tenant):
            shops = [create_merchant(name=f"Group Shop {i}") for i in range(3)]
            member_no = create_member(display_name="grouped").member_no
            schema = committed_tenant.schema_name
            first_key = _sale_key(shops[0].pk, "G-0")
        connection.set_schema_to_public()
        grouping = GroupCommit()
        calls = Calls(committed_tenant, grouping)
        a, b, c = shops
        holder.lock(first_key)  # the first call leads and waits for its sale key
        calls.start("first", a, _sale("G-0", "10.00"))
        _until(lambda: len(holder.waiting()) == 1, "the first call to wait on its sale key")
        followers = [
            ("points", a, _sale("G-1", "100.00", member_no)),
            ("same member, other shop", b, _sale("G-2", "50.00", member_no)),
            ("retry", b, _sale("G-2", "50.00", member_no)),
            ("same id, other shop", c, _sale("G-2", "20.00")),
            ("conflict", a, _sale("G-1", "99.00", member_no)),
            ("unknown member", c, _sale("G-6", "30.00", "NOPE0000")),
        ]
        for count, (name, merchant, request) in enumerate(followers, start=1):
            calls.start(name, merchant, request)
            _until(lambda n=count: grouping.queued(schema) == n, f"{name} to queue")
        holder.unlock(first_key)
        calls.join()

        out = calls.outcomes
        assert (grouping.groups, grouping.sales) == (1, 6)
        assert (out["first"].created, out["first"].points_earned) == (True, 0)
        assert (out["points"].created, out["points"].points_earned) == (True, 100)
        assert out["points"].points_balance == 100
        other_shop = out["same member, other shop"]
        assert (other_shop.points_earned, other_shop.points_balance) == (50, 150)
        assert out["retry"].created is False
        assert out["retry"].sale.pk == other_shop.sale.pk
        assert out["same id, other shop"].created
        assert out["same id, other shop"].sale.merchant_id == c.pk
        assert isinstance(out["conflict"], IdempotencyConflictError)
        assert isinstance(out["unknown member"], MemberNotFoundError)
        with tenant_context(committed_tenant):
            recorded = sorted(Sale.objects.values_list("merchant__name", "external_id", "total"))
            assert [(name, ext, str(total)) for name, ext, total in recorded] == [
                ("Group Shop 0", "G-0", "10.00"),
                ("Group Shop 0", "G-1", "100.00"),
                ("Group Shop 1", "G-2", "50.00"),
                ("Group Shop 2", "G-2", "20.00"),
            ]
            buyer = out["points"].sale.member
            assert JournalEntry.objects.filter(member=buyer).count() == 2
            assert PointsAccount.objects.get(member=buyer).balance == 150
            assert posted_balance(member=buyer) == open_lots_balance(member=buyer) == 150
        connection.set_schema_to_public()


def test_a_group_that_fails_as_a_whole_lets_each_call_record_alone(
    committed_tenant, django_db_blocker, holder
):
    with django_db_blocker.unblock():
        with tenant_context(committed_tenant):
            a, b, c = (create_merchant(name=f"Fail Shop {i}") for i in range(3))
            schema = committed_tenant.schema_name
            first_key, blocked_key = _sale_key(a.pk, "F-0"), _sale_key(b.pk, "F-2")
        connection.set_schema_to_public()
        grouping = GroupCommit()
        calls = Calls(committed_tenant, grouping)
        holder.lock(first_key)
        holder.lock(blocked_key)  # the group of the followers will wait for it
        calls.start("first", a, _sale("F-0", "10.00"))
        _until(lambda: len(holder.waiting()) == 1, "the first call to wait")
        for count, (name, merchant, request) in enumerate(
            [("leader", a, _sale("F-1", "11.00")), ("second", b, _sale("F-2", "12.00")),
             ("third", c, _sale("F-3", "13.00"))],
            start=1,
        ):  # fmt: skip
            calls.start(name, merchant, request)
            _until(lambda n=count: grouping.queued(schema) == n, f"{name} to queue")
        holder.unlock(first_key)
        _until(lambda: "first" in calls.outcomes, "the first call to answer")
        _until(lambda: len(holder.waiting()) == 1, "the group to wait on a sale key")
        (group_backend,) = holder.waiting()
        holder.terminate(group_backend)  # the group's transaction dies with its connection
        holder.unlock(blocked_key)
        calls.join()

        out = calls.outcomes
        assert out["first"].created
        # The leader's connection died with the group; its own write reconnects, in its tenant.
        assert (out["leader"].created, out["leader"].sale.total) == (True, 11)
        assert (out["second"].created, out["second"].sale.total) == (True, 12)
        assert (out["third"].created, out["third"].sale.total) == (True, 13)
        assert grouping.groups == 0
        with tenant_context(committed_tenant):
            recorded = sorted(Sale.objects.values_list("external_id", flat=True))
            assert recorded == ["F-0", "F-1", "F-2", "F-3"]
        connection.set_schema_to_public()


def _recorded(tenant):
    with tenant_context(tenant):
        recorded = sorted(Sale.objects.values_list("external_id", flat=True))
    connection.set_schema_to_public()
    return recorded


def test_a_leader_gathers_the_calls_still_on_their_way(committed_tenant, django_db_blocker):
    with django_db_blocker.unblock():
        with tenant_context(committed_tenant):
            a, b = (create_merchant(name=f"Gather Shop {i}") for i in range(2))
            schema = committed_tenant.schema_name
        connection.set_schema_to_public()
        grouping = GroupCommit(gather_seconds=WAIT * 3)  # only the calls' arrival ends the wait
        calls = Calls(committed_tenant, grouping)
        gates = [threading.Event() for _ in range(3)]
        for number, gate in enumerate(gates, start=1):
            calls.start(f"W-{number}", b, _sale(f"W-{number}", "20.00"), on_the_way=gate)
        _until(lambda: grouping.on_the_way(schema) == 3, "three calls on their way")
        calls.start("W-0", a, _sale("W-0", "10.00"))
        _until(lambda: grouping.queued(schema) == 1, "the leader to queue")
        for count, gate in enumerate(gates[:2], start=2):
            gate.set()
            _until(lambda n=count: grouping.queued(schema) == n, "a call to queue")
            assert _recorded(committed_tenant) == []  # the leader still gathers
        assert grouping.on_the_way(schema) == 1
        gates[2].set()
        calls.join()

        assert (grouping.groups, grouping.sales) == (1, 4)
        assert grouping.on_the_way(schema) == 0
        assert all(calls.outcomes[f"W-{n}"].created for n in range(4))
        assert _recorded(committed_tenant) == ["W-0", "W-1", "W-2", "W-3"]


def test_a_call_that_ends_without_recording_is_no_longer_waited_for(
    committed_tenant, django_db_blocker
):
    with django_db_blocker.unblock():
        with tenant_context(committed_tenant):
            shop = create_merchant(name="Refusing Shop")
            schema = committed_tenant.schema_name
        connection.set_schema_to_public()
        grouping = GroupCommit(gather_seconds=WAIT * 3)
        calls = Calls(committed_tenant, grouping)
        gate = threading.Event()
        calls.start("refused", shop, _sale("R-1", "5.00"), on_the_way=gate, records=False)
        _until(lambda: grouping.on_the_way(schema) == 1, "the call on its way")
        calls.start("leader", shop, _sale("R-0", "10.00"))
        _until(lambda: grouping.queued(schema) == 1, "the leader to queue")
        assert _recorded(committed_tenant) == []
        gate.set()  # its request ends (a bad signature, say) without a sale
        calls.join()  # within WAIT, not the leader's WAIT * 3

        assert calls.outcomes["leader"].created
        assert calls.outcomes["refused"] == "refused before recording"
        assert grouping.on_the_way(schema) == 0
        assert _recorded(committed_tenant) == ["R-0"]


def test_a_leader_waits_no_longer_than_its_gathering_time(committed_tenant, django_db_blocker):
    with django_db_blocker.unblock():
        with tenant_context(committed_tenant):
            shop = create_merchant(name="Slow Shop")
            schema = committed_tenant.schema_name
        connection.set_schema_to_public()
        grouping = GroupCommit(gather_seconds=0.2)
        calls = Calls(committed_tenant, grouping)
        gate = threading.Event()
        calls.start("slow", shop, _sale("S-1", "5.00"), on_the_way=gate)
        _until(lambda: grouping.on_the_way(schema) == 1, "the call on its way")
        calls.start("leader", shop, _sale("S-0", "10.00"))
        _until(lambda: "leader" in calls.outcomes, "the leader to answer, the other still coming")
        assert calls.outcomes["leader"].created
        assert (_recorded(committed_tenant), grouping.groups) == (["S-0"], 0)
        gate.set()  # it arrives after all and, nobody writing, records alone
        calls.join()
        assert calls.outcomes["slow"].created
        assert (_recorded(committed_tenant), grouping.groups) == (["S-0", "S-1"], 0)
        assert grouping.on_the_way(schema) == 0


def test_the_counted_path_is_the_pos_sales_endpoint():
    assert resolve(POS_SALES_PATH, urlconf="atrium.urls_tenant").url_name == "create_sale"


@pytest.mark.parametrize(
    ("method", "path", "counted"),
    [("post", POS_SALES_PATH, 1), ("get", POS_SALES_PATH, 0),
     ("post", POS_SALES_PATH + "/batch", 0), ("post", "/api/merchant/v1/sales", 0)],
)  # fmt: skip
def test_the_middleware_counts_pos_sale_calls_while_they_run(mall_a, method, path, counted):
    seen = []

    def view(request):
        seen.append(group_commit.on_the_way(mall_a.schema_name))
        if request.headers.get("X-Fail"):
            raise ValueError("the view failed")
        return HttpResponse(status=201)

    middleware = PosSaleArrivalMiddleware(view)
    with tenant_context(mall_a):
        assert middleware(getattr(RequestFactory(), method)(path)).status_code == 201
        with pytest.raises(ValueError, match="the view failed"):
            middleware(getattr(RequestFactory(), method)(path, headers={"X-Fail": "1"}))
        assert group_commit.on_the_way(mall_a.schema_name) == 0
    connection.set_schema_to_public()
    assert seen == [counted, counted]
