"""Group commit of concurrent POS sales, on real PostgreSQL with real threads: the calls that
queue while a sale is being written go into one transaction together, each sale still on its
own; a group that fails as a whole lets each of its calls record alone."""

import threading
import time

import psycopg
import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.loyalty.models import JournalEntry, PointsAccount
from apps.loyalty.selectors import open_lots_balance, posted_balance
from apps.members.errors import MemberNotFoundError
from apps.members.services import create_member
from apps.merchants.services import create_merchant
from apps.sales.locks import _sale_key
from apps.sales.models import Sale
from apps.sales.services import MemberRef, PaymentLine, SaleRequest
from apps.sales.services.group_commit import GroupCommit
from atrium.errors import IdempotencyConflictError

WAIT = 20.0  # seconds a step may take before the test gives up


def _until(condition, what):
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Holder:
    """A session of its own holding advisory locks (as another transaction would hold rows)."""

    def __init__(self):
        settings = connection.settings_dict
        self.conn = psycopg.connect(
            dbname=settings["NAME"], host=settings["HOST"] or None,
            port=settings["PORT"] or None, user=settings["USER"] or None,
            password=settings["PASSWORD"] or None, autocommit=True,
        )  # fmt: skip

    def lock(self, key):
        self.conn.execute("SELECT pg_advisory_lock(%s)", [key])

    def unlock(self, key):
        self.conn.execute("SELECT pg_advisory_unlock(%s)", [key])

    def waiting(self):
        """Backends waiting for an advisory lock."""
        rows = self.conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchall()
        return [pid for (pid,) in rows]

    def terminate(self, pid):
        self.conn.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.fixture
def holder(django_db_blocker):
    with django_db_blocker.unblock():
        held = Holder()
        yield held
        held.conn.close()


class Calls:
    """POS calls of one tenant made in threads of their own, each answering or failing."""

    def __init__(self, tenant, grouping):
        self.tenant, self.grouping = tenant, grouping
        self.outcomes, self.threads = {}, []

    def start(self, name, merchant, request):
        def run():
            with tenant_context(self.tenant):
                try:
                    self.outcomes[name] = self.grouping.record(merchant=merchant, request=request)
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
