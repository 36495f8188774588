"""Concurrency on real PostgreSQL: 50 concurrent retries of one POS sale award it once."""

import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.loyalty.models import GrowthEntry, JournalEntry, PointsAccount
from apps.loyalty.selectors import open_lots_balance, posted_balance
from apps.loyalty.services.sale_awards import lock_award_accounts
from apps.members.services import issue_member_code, join_member
from apps.merchants.services import create_api_key, create_merchant
from apps.sales.models import Refund, Sale
from apps.sales.services import (
    PaymentLine,
    SaleRequest,
    approve_receipt,
    record_sale,
    record_sales,
    refund_sale,
    submit_receipt,
)
from atrium.errors import DomainError
from atrium.models import OutboxEvent
from tests.apps.sales.conftest import Pos, sale_body
from tests.concurrency import race
from tests.conftest import MerchantSetup, host_of

RETRIES = 50


def test_fifty_concurrent_retries_of_one_pos_sale_award_once(committed_tenant, django_db_blocker):
    with django_db_blocker.unblock():
        with tenant_context(committed_tenant):
            merchant = create_merchant(name="Race Shop")
            issued = create_api_key(merchant=merchant)
            member = join_member(channel="app", phone="13700137000", phone_verified=True).member
            code = issue_member_code(member=member).code
        connection.set_schema_to_public()
        shop = MerchantSetup(merchant, issued.api_key.key_id, issued.secret, None)
        body = sale_body("RACE-1", total="88.00", member={"code": code})
        signed_at = int(time.time())

        def retry(index):
            # The same sale, re-signed by each retry (its own timestamp, so its own signature).
            pos = Pos(shop, host=host_of(committed_tenant.slug))
            response = pos.sale(body, timestamp=signed_at - index)
            return response.status_code, response.json()

        results = race(RETRIES, retry)
        statuses = sorted(status for status, _ in results)
        assert statuses == [200] * (RETRIES - 1) + [201], {s for s, _ in results}
        assert len({answer["sale_id"] for _, answer in results}) == 1
        assert {answer["points_earned"] for _, answer in results} == {88}
        with tenant_context(committed_tenant):
            assert Sale.objects.count() == 1
            assert JournalEntry.objects.filter(member=member).count() == 1
            assert GrowthEntry.objects.filter(member=member).count() == 1
            account = PointsAccount.objects.get(member=member)
            assert (account.balance, account.growth) == (88, 88)
            assert posted_balance(member=member) == open_lots_balance(member=member) == 88
        connection.set_schema_to_public()


def test_concurrent_partial_refunds_never_take_back_more_than_the_sale(
    committed_tenant, django_db_blocker
):
    with django_db_blocker.unblock():
        with tenant_context(committed_tenant):
            merchant = create_merchant(name="Refund Shop")
            member = join_member(channel="app", phone="13700137001", phone_verified=True).member
            record_sale(
                merchant=merchant,
                external_id="R-RACE",
                occurred_at=timezone.now(),
                total="100.00",
                payments=[PaymentLine("cash", "100.00")],
                member=member,
            )
        connection.set_schema_to_public()

        def refund(index):
            with tenant_context(committed_tenant):
                try:
                    refund_sale(
                        merchant=merchant,
                        external_id="R-RACE",
                        refund_id=f"R-{index}",
                        amount="7.00",
                    )
                except DomainError as exc:
                    return exc.code
                return "refunded"

        results = race(20, refund)
        # ¥100 takes 14 refunds of ¥7 (¥98); the other 6 find only ¥2 left.
        assert (results.count("refunded"), results.count("sales.refund_exceeds_sale")) == (14, 6)
        with tenant_context(committed_tenant):
            sale = Sale.objects.get(external_id="R-RACE")
            reversed_total = sum(
                Refund.objects.filter(sale=sale).values_list("points_reversed", flat=True)
            )
            assert (sale.refunded_total, sale.points_reversed, reversed_total) == (98, 98, 98)
            assert PointsAccount.objects.get(member=member).balance == 2
        connection.set_schema_to_public()


def test_concurrent_approvals_of_one_receipt_record_its_sale_once(
    committed_tenant, django_db_blocker
):
    with django_db_blocker.unblock():
        with tenant_context(committed_tenant):
            merchant = create_merchant(name="Receipt Shop")
            member = join_member(channel="app", phone="13700137002", phone_verified=True).member
            receipt = submit_receipt(
                member=member,
                merchant=merchant,
                receipt_no="RCPT-1",
                amount="66.00",
                occurred_on=timezone.localdate(),
                photo=b"\xff\xd8\xff\xe0" + b"\x00" * 16,
            )
        connection.set_schema_to_public()

        def approve(index):
            with tenant_context(committed_tenant):
                try:
                    approve_receipt(receipt_id=str(receipt.pk), actor=f"staff:{index}")
                except DomainError as exc:
                    return exc.code
                return "approved"

        results = race(10, approve)
        assert (results.count("approved"), results.count("sales.receipt_decided")) == (1, 9)
        with tenant_context(committed_tenant):
            assert Sale.objects.filter(channel="receipt").count() == 1
            assert PointsAccount.objects.get(member=member).balance == 66
        connection.set_schema_to_public()


@pytest.mark.parametrize("speculate_from", [1, 10_000], ids=["planned-early", "planned-locked"])
def test_concurrent_batches_sharing_new_members_neither_deadlock_nor_lose_points(
    committed_tenant, django_db_blocker, monkeypatch, speculate_from
):
    """Eight batches at once, each naming the same ten members (half of them without an account
    yet) in its own order: accounts are created, then locked, in key order, so no batch
    deadlocks and every sale counts; whether the awards are planned before the locks (and
    planned again for the accounts that changed meanwhile, ADR 0019) or under them."""
    monkeypatch.setattr("apps.sales.services.sales.SPECULATE_FROM", speculate_from)
    with django_db_blocker.unblock():
        with tenant_context(committed_tenant):
            merchant = create_merchant(name="Batch Race Shop")
            members = [
                join_member(channel="app", phone=f"1370013{i:04d}", phone_verified=True).member
                for i in range(10)
            ]
            for member in members[::2]:  # half of them have an account already
                record_sale(
                    merchant=merchant, external_id=f"BR-first-{member.pk}", occurred_at=None,
                    total="10.00", payments=[PaymentLine("cash", "10.00")], member=member,
                )  # fmt: skip
        connection.set_schema_to_public()

        def batch(index):
            order = members[index % 10 :] + members[: index % 10]
            if index % 2:
                order.reverse()
            requests = [
                SaleRequest(
                    external_id=f"BR-{index}-{k}",
                    occurred_at=None,
                    total="10.00",
                    payments=[PaymentLine("cash", "10.00")],
                    member=member,
                )
                for k, member in enumerate(order)
            ]
            with tenant_context(committed_tenant):
                outcome = record_sales(merchant=merchant, requests=requests)
            connection.set_schema_to_public()
            return [getattr(result, "created", result) for result in outcome]

        results = race(8, batch)
        assert results == [[True] * 10] * 8
        with tenant_context(committed_tenant):
            assert Sale.objects.filter(merchant=merchant).count() == 85
            for index, member in enumerate(members):
                points = 90 if index % 2 == 0 else 80
                account = PointsAccount.objects.get(member=member)
                assert (account.balance, account.growth) == (points, points)
                assert posted_balance(member=member) == open_lots_balance(member=member) == points
        connection.set_schema_to_public()


def test_a_batch_plans_again_the_members_whose_account_changed_while_it_waited(
    committed_tenant, django_db_blocker, monkeypatch
):
    """A large batch plans its awards before it locks the accounts (ADR 0019). Here another
    transaction holds member A's account while the batch plans, then records a sale of A and
    commits: once it has the lock the batch works A's awards out again from the new balance,
    keeps B's, and writes each sale and event once."""
    monkeypatch.setattr("apps.sales.services.sales.SPECULATE_FROM", 2)
    with django_db_blocker.unblock():
        with tenant_context(committed_tenant):
            merchant = create_merchant(name="Waiting Shop")
            a, b = (
                join_member(channel="app", phone=f"1370014{i:04d}", phone_verified=True).member
                for i in range(2)
            )
            for member in (a, b):
                record_sale(
                    merchant=merchant, external_id=f"W-first-{member.pk}", occurred_at=None,
                    total="10.00", payments=[PaymentLine("cash", "10.00")], member=member,
                )  # fmt: skip
        connection.set_schema_to_public()
        requests = [
            SaleRequest(
                external_id=f"W-{k}",
                occurred_at=None,
                total=total,
                payments=[PaymentLine("cash", total)],
                member=member,
            )
            for k, (member, total) in enumerate([(a, "20.00"), (b, "20.00"), (a, "5.00")])
        ]
        results = _while_a_batch_waits(
            committed_tenant,
            holding=a,
            meanwhile=lambda: record_sale(
                merchant=merchant,
                external_id="W-meanwhile",
                occurred_at=None,
                total="30.00",
                payments=[PaymentLine("cash", "30.00")],
                member=a,
            ),
            batch=lambda: record_sales(merchant=merchant, requests=requests),
        )

        balances = [result.sale.points_balance for result in results]
        assert balances == [60, 30, 65]  # A: 10 + 30 meanwhile + 20, + 5; B: 10 + 20
        with tenant_context(committed_tenant):
            assert [PointsAccount.objects.get(member=m).balance for m in (a, b)] == [65, 30]
            for member, points in ((a, 65), (b, 30)):
                assert posted_balance(member=member) == open_lots_balance(member=member) == points
            assert JournalEntry.objects.filter(member=a).count() == 4
            assert Sale.objects.filter(external_id__startswith="W-").count() == 6
            recorded = OutboxEvent.objects.filter(
                topic="sales.sale_recorded", payload__external_id__in=["W-0", "W-1", "W-2"]
            )
            assert sorted(e.payload["points_earned"] for e in recorded) == [5, 20, 20]
            changed = OutboxEvent.objects.filter(
                topic="loyalty.points_changed", payload__member_id=str(a.pk)
            )
            assert sorted(e.payload["balance"] for e in changed) == [10, 40, 60, 65]
        connection.set_schema_to_public()


def test_a_batch_recreates_an_account_that_went_away_while_it_waited(
    committed_tenant, django_db_blocker, monkeypatch
):
    """Nothing deletes an account today; if something did while a batch planned from it, the
    batch creates it again under the lock and plans that member's awards from the new row."""
    monkeypatch.setattr("apps.sales.services.sales.SPECULATE_FROM", 1)
    with django_db_blocker.unblock():
        with tenant_context(committed_tenant):
            merchant = create_merchant(name="Vanishing Shop")
            member = join_member(channel="app", phone="13700150000", phone_verified=True).member
            PointsAccount.objects.create(member=member, balance=0, growth=0)
        connection.set_schema_to_public()
        request = SaleRequest(
            external_id="V-1", occurred_at=None, total="25.00",
            payments=[PaymentLine("cash", "25.00")], member=member,
        )  # fmt: skip
        results = _while_a_batch_waits(
            committed_tenant,
            holding=member,
            meanwhile=lambda: PointsAccount.objects.filter(member=member).delete(),
            batch=lambda: record_sales(merchant=merchant, requests=[request]),
        )

        (result,) = results
        assert (result.sale.points_earned, result.sale.points_balance) == (25, 25)
        with tenant_context(committed_tenant):
            account = PointsAccount.objects.get(member=member)
            assert (account.balance, account.growth) == (25, 25)
            assert posted_balance(member=member) == open_lots_balance(member=member) == 25
        connection.set_schema_to_public()


def _while_a_batch_waits(tenant, *, holding, meanwhile, batch):
    """Hold `holding`'s account in one transaction; run `batch` in another thread until it waits
    on a row lock (after planning from an unlocked read), then run `meanwhile` in the holding
    transaction and commit. `batch`'s result, once it is done."""
    held, release = threading.Event(), threading.Event()
    outcome = {}

    def hold():
        try:
            with tenant_context(tenant), transaction.atomic():
                lock_award_accounts(member_ids=[str(holding.pk)])
                held.set()
                assert release.wait(30)
                meanwhile()
        finally:
            connection.close()

    def write():
        try:
            assert held.wait(30)
            with tenant_context(tenant):
                outcome["result"] = batch()
        finally:
            connection.close()

    threads = [threading.Thread(target=hold), threading.Thread(target=write)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while not _waits_on_a_lock() and time.monotonic() < deadline:
        time.sleep(0.02)
    release.set()
    for thread in threads:
        thread.join()
    return outcome["result"]


def _waits_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.parametrize(
    ("shape", "written_while_held"),
    [("plain", ["D-1", "D-2"]), ("inside-a-transaction", []), ("a-retry-inside", [])],
)
def test_a_large_batch_writes_first_the_sales_no_other_write_holds(
    committed_tenant, django_db_blocker, monkeypatch, shape, written_while_held
):
    """A large batch does not wait for an account another transaction holds (ADR 0020): it
    writes and commits the other members' sales, then writes that member's once the account is
    free, planned from what the other transaction left. It waits as one transaction when it
    runs inside a caller's transaction (whose locks are held to the caller's end: holding B's and
    C's while waiting for A's could deadlock) and when a sale in it repeats an earlier one
    (answered from that one's row)."""
    monkeypatch.setattr("apps.sales.services.sales.SPECULATE_FROM", 2)
    with django_db_blocker.unblock():
        with tenant_context(committed_tenant):
            merchant = create_merchant(name="Deferring Shop")
            # In the accounts' lock order: A's is the first a batch of all three would take.
            a, b, c = sorted(
                (
                    join_member(channel="app", phone=f"1370016{i:04d}", phone_verified=True).member
                    for i in range(3)
                ),
                key=lambda member: str(member.pk),
            )
            for member in (a, b, c):
                record_sale(
                    merchant=merchant, external_id=f"D-first-{member.pk}", occurred_at=None,
                    total="10.00", payments=[PaymentLine("cash", "10.00")], member=member,
                )  # fmt: skip
        connection.set_schema_to_public()
        sales = [("D-0", a, "20.00"), ("D-1", b, "20.00"), ("D-2", c, "30.00"), ("D-3", a, "5.00")]
        if shape == "a-retry-inside":
            sales.append(("D-1", b, "20.00"))
        requests = [
            SaleRequest(
                external_id=external_id, occurred_at=None, total=total,
                payments=[PaymentLine("cash", total)], member=member,
            )
            for external_id, member, total in sales
        ]  # fmt: skip
        seen = []

        def meanwhile():
            # The holding transaction takes B's and C's accounts too: free if the batch committed
            # them, or never taken because it waits at A's; a batch inside a caller's transaction
            # that held them while waiting for A's would deadlock with it.
            lock_award_accounts(member_ids=[str(b.pk), str(c.pk)])
            # With A's account still held: what the batch has committed.
            seen.extend(
                Sale.objects.filter(external_id__in=["D-0", "D-1", "D-2", "D-3"])
                .order_by("external_id")
                .values_list("external_id", flat=True)
            )
            record_sale(
                merchant=merchant, external_id="D-meanwhile", occurred_at=None, total="30.00",
                payments=[PaymentLine("cash", "30.00")], member=a,
            )  # fmt: skip

        def batch():
            if shape == "inside-a-transaction":
                with transaction.atomic():
                    return record_sales(merchant=merchant, requests=requests)
            return record_sales(merchant=merchant, requests=requests)

        results = _while_a_batch_waits(
            committed_tenant, holding=a, meanwhile=meanwhile, batch=batch
        )

        assert seen == written_while_held
        answers = [(r.sale.external_id, r.created, r.sale.points_balance) for r in results]
        expected = [("D-0", True, 60), ("D-1", True, 30), ("D-2", True, 40), ("D-3", True, 65)]
        if shape == "a-retry-inside":
            expected.append(("D-1", False, 30))
        assert answers == expected  # A: 10 + 30 meanwhile + 20, + 5; B: 10 + 20; C: 10 + 30
        with tenant_context(committed_tenant):
            assert [PointsAccount.objects.get(member=m).balance for m in (a, b, c)] == [65, 30, 40]
            for member, points in ((a, 65), (b, 30), (c, 40)):
                assert posted_balance(member=member) == open_lots_balance(member=member) == points
                assert GrowthEntry.objects.filter(member=member).count() == (
                    4 if member == a else 2
                )
            assert Sale.objects.filter(external_id__startswith="D-").count() == 8
            recorded = OutboxEvent.objects.filter(
                topic="sales.sale_recorded", payload__external_id__in=["D-0", "D-1", "D-2", "D-3"]
            )
            assert sorted(e.payload["points_earned"] for e in recorded) == [5, 20, 20, 30]
            changed = OutboxEvent.objects.filter(
                topic="loyalty.points_changed", payload__member_id=str(a.pk)
            )
            assert sorted(e.payload["balance"] for e in changed) == [10, 40, 60, 65]
        connection.set_schema_to_public()
