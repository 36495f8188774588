"""The points ledger: lots, oldest-expiry-first redemption, pending points, expiry, reversal."""

import datetime as dt
import hashlib
import uuid

import pytest
from django.db import transaction
from django.utils import timezone

from apps.loyalty.errors import InsufficientPointsError, InvalidPointsError, LedgerKeyConflictError
from apps.loyalty.models import JournalEntry, LotMovement, PointsAccount, PointsLot, Posting
from apps.loyalty.selectors import open_lots_balance, points_summary, posted_balance
from apps.loyalty.services import ledger
from apps.loyalty.services.program import update_program_settings
from apps.members.services import create_member

NOW = dt.datetime(2026, 3, 15, 10, 0, tzinfo=dt.UTC)


def _balance(member):
    return PointsAccount.objects.get(member=member).balance


def _earn(member, points, key, *, at=NOW, issuer=None, pending_days=0, source_id="s"):
    return ledger.earn_points(
        member=member,
        points=points,
        idempotency_key=key,
        source_type="sale",
        source_id=source_id,
        issuer_merchant_id=issuer,
        now=at,
        pending_days=pending_days,
    )


def test_earning_posts_a_balanced_entry_and_a_lot(member):
    issuer = uuid.uuid4()
    entry = _earn(member, 120, "e1", issuer=issuer)
    postings = sorted(Posting.objects.filter(entry=entry).values_list("account", "amount"))
    assert postings == [("issued", -120), ("member", 120)]
    lot = PointsLot.objects.get(entry=entry)
    assert (lot.original, lot.remaining, lot.issuer_merchant_id) == (120, 120, issuer)
    assert lot.expires_at == dt.datetime(2027, 3, 15, 10, 0, tzinfo=dt.UTC)
    assert (_balance(member), posted_balance(member=member), open_lots_balance(member=member)) == (
        120,
        120,
        120,
    )


def test_validity_months_end_on_the_last_day_of_short_months():
    assert ledger.add_months(dt.datetime(2026, 3, 31, tzinfo=dt.UTC), 11) == dt.datetime(
        2027, 2, 28, tzinfo=dt.UTC
    )
    assert ledger.add_months(dt.datetime(2027, 11, 30, tzinfo=dt.UTC), 3) == dt.datetime(
        2028, 2, 29, tzinfo=dt.UTC
    )


def test_redemption_takes_the_oldest_expiry_first_and_records_each_lot(member):
    old = _earn(member, 50, "old", at=NOW - dt.timedelta(days=300))
    new = _earn(member, 100, "new", at=NOW - dt.timedelta(days=10))
    entry = ledger.redeem_points(member=member, points=80, idempotency_key="r1", now=NOW)
    movements = dict(LotMovement.objects.filter(entry=entry).values_list("lot__entry", "amount"))
    assert movements == {old.pk: -50, new.pk: -30}
    assert list(
        PointsLot.objects.filter(member=member)
        .order_by("expires_at")
        .values_list("remaining", flat=True)
    ) == [0, 70]
    assert (entry.points, _balance(member)) == (-80, 70)


def test_redeeming_more_than_spendable_is_refused_and_changes_nothing(member):
    _earn(member, 40, "e")
    with pytest.raises(InsufficientPointsError) as caught:
        ledger.redeem_points(member=member, points=41, idempotency_key="r", now=NOW)
    assert caught.value.extra == {"spendable": 40, "balance": 40, "requested": 41}
    assert (_balance(member), JournalEntry.objects.filter(member=member).count()) == (40, 1)


@pytest.mark.parametrize("points", [0, -5, 1.5, True, 10**9])
def test_bad_amounts_are_refused(member, points):
    with pytest.raises(InvalidPointsError):
        ledger.redeem_points(member=member, points=points, idempotency_key="x", now=NOW)


def test_pending_points_cannot_be_spent_until_the_return_window_ends(member):
    _earn(member, 100, "e", pending_days=7)
    summary = points_summary(member=member, now=NOW + dt.timedelta(days=1))
    assert (summary.balance, summary.spendable, summary.pending) == (100, 0, 100)
    with pytest.raises(InsufficientPointsError):
        ledger.redeem_points(
            member=member, points=1, idempotency_key="r", now=NOW + dt.timedelta(days=1)
        )
    ledger.redeem_points(
        member=member, points=100, idempotency_key="r2", now=NOW + dt.timedelta(days=7)
    )
    assert _balance(member) == 0


def test_pending_days_default_comes_from_the_program(member):
    update_program_settings(pending_days=3)
    _earn_default = ledger.earn_points(
        member=member, points=10, idempotency_key="e", source_type="sale", source_id="s", now=NOW
    )
    lot = PointsLot.objects.get(entry=_earn_default)
    assert lot.available_at == NOW + dt.timedelta(days=3)


def test_a_retry_returns_the_first_entry_and_a_changed_retry_is_refused(member):
    first = _earn(member, 10, "same")
    again = _earn(member, 10, "same")
    assert (again.pk, _balance(member)) == (first.pk, 10)
    # earn_points opens no savepoint (hot path): a caller that goes on after its error wraps it.
    with pytest.raises(LedgerKeyConflictError), transaction.atomic():
        _earn(member, 11, "same")
    assert _balance(member) == 10


def test_expiry_expires_each_due_lot_once(member):
    _earn(member, 30, "a", at=NOW - dt.timedelta(days=400))
    _earn(member, 20, "b", at=NOW)
    assert ledger.expire_due_lots(now=NOW) == 1
    assert ledger.expire_due_lots(now=NOW) == 0
    expired = JournalEntry.objects.get(member=member, kind="expire")
    assert expired.points == -30
    assert sorted(Posting.objects.filter(entry=expired).values_list("account", "amount")) == [
        ("expired", 30),
        ("member", -30),
    ]
    assert (_balance(member), open_lots_balance(member=member)) == (20, 20)


def test_expired_but_not_yet_swept_lots_are_not_spendable(member):
    _earn(member, 30, "a", at=NOW - dt.timedelta(days=400))
    with pytest.raises(InsufficientPointsError):
        ledger.redeem_points(member=member, points=1, idempotency_key="r", now=NOW)


def test_reversal_takes_the_sales_own_lots_first(member):
    other = _earn(member, 100, "other", at=NOW - dt.timedelta(days=300), source_id="s-other")
    own = _earn(member, 50, "own", at=NOW, source_id="s-own")
    entry = ledger.reverse_points(
        member=member, points=40, idempotency_key="rev", source_type="sale", source_id="s-own"
    )
    assert dict(LotMovement.objects.filter(entry=entry).values_list("lot__entry", "amount")) == {
        own.pk: -40
    }
    assert PointsLot.objects.get(entry=other).remaining == 100


def test_reversal_never_goes_below_what_is_left(member):
    _earn(member, 100, "e", source_id="s1")
    ledger.redeem_points(member=member, points=90, idempotency_key="spent", now=NOW)
    entry = ledger.reverse_points(
        member=member, points=100, idempotency_key="rev", source_type="sale", source_id="s1"
    )
    assert (entry.points, _balance(member)) == (-10, 0)


def test_adjustments_credit_a_mall_lot_or_debit_lots(member):
    credit = ledger.adjust_points(
        member=member, points=25, reason="goodwill", idempotency_key="a1", actor="op"
    )
    assert PointsLot.objects.get(entry=credit).issuer_merchant_id is None
    ledger.adjust_points(
        member=member, points=-5, reason="correction", idempotency_key="a2", actor="op"
    )
    with pytest.raises(InsufficientPointsError):
        ledger.adjust_points(
            member=member, points=-21, reason="too much", idempotency_key="a3", actor="op"
        )
    assert _balance(member) == 20


def test_merge_moves_lots_and_balance_and_keeps_both_ledgers_consistent(member):
    other = create_member(display_name="Dup")
    issuer = uuid.uuid4()
    lot_entry = _earn(other, 70, "o1", issuer=issuer)
    _earn(member, 30, "m1")
    entry = ledger.merge_member_ledgers(source=other, target=member, idempotency_key="merge-1")
    assert entry.points == 70
    moved = PointsLot.objects.get(entry=lot_entry)
    assert (moved.member_id, moved.issuer_merchant_id, moved.remaining) == (member.pk, issuer, 70)
    for person, expected in ((member, 100), (other, 0)):
        assert (
            _balance(person),
            posted_balance(member=person),
            open_lots_balance(member=person),
        ) == (
            expected,
            expected,
            expected,
        )
    again = ledger.merge_member_ledgers(source=other, target=member, idempotency_key="merge-1")
    assert (again.pk, _balance(member)) == (entry.pk, 100)


def test_merging_a_member_into_itself_is_refused(member):
    with pytest.raises(InvalidPointsError):
        ledger.merge_member_ledgers(source=member, target=member, idempotency_key="m")


def test_summary_reports_points_expiring_within_30_days(member):
    _earn(member, 10, "soon", at=timezone.now() - dt.timedelta(days=350))
    _earn(member, 5, "later", at=timezone.now())
    summary = points_summary(member=member)
    assert (summary.balance, summary.spendable, summary.expiring_soon) == (15, 15, 10)


def test_forfeiting_closes_every_lot_pending_ones_too_once(member):
    _earn(member, 120, "f1", at=NOW - dt.timedelta(days=40))
    _earn(member, 50, "f2", pending_days=7)  # still in its return window
    ledger.redeem_points(member=member, points=30, idempotency_key="f3", now=NOW)

    entry = ledger.forfeit_points(
        member=member, idempotency_key="close:m", reason="account closed", actor="member:self"
    )
    again = ledger.forfeit_points(
        member=member, idempotency_key="close:m", reason="account closed", actor="member:self"
    )

    assert (again.pk, entry.kind, entry.points) == (entry.pk, "forfeit", -140)
    assert sorted(Posting.objects.filter(entry=entry).values_list("account", "amount")) == [
        ("forfeited", 140),
        ("member", -140),
    ]
    assert sorted(LotMovement.objects.filter(entry=entry).values_list("amount", flat=True)) == [
        -90,
        -50,
    ]
    assert list(PointsLot.objects.filter(member=member).values_list("remaining", flat=True)) == [
        0,
        0,
    ]
    assert (_balance(member), posted_balance(member=member), open_lots_balance(member=member)) == (
        0,
        0,
        0,
    )
    assert JournalEntry.objects.filter(member=member, kind="forfeit").count() == 1


def test_forfeiting_nothing_records_an_empty_entry(member):
    entry = ledger.forfeit_points(member=member, idempotency_key="close:e", reason="closed")
    assert (entry.points, Posting.objects.filter(entry=entry).count(), _balance(member)) == (
        0,
        0,
        0,
    )


def test_an_entry_hash_is_the_sha256_of_its_canonical_json():
    # The hash is stored with every entry and compared on each retry: its form never changes.
    fields = {
        "op": "earn",
        "member": uuid.UUID(int=7),
        "points": 12,
        "id": "销售-1",
        "issuer": None,
    }
    canonical = (
        '{"id": "销售-1", "issuer": null, "member": "00000000-0000-0000-0000-000000000007", '
        '"op": "earn", "points": 12}'
    )
    assert ledger.entry_hash(**fields) == hashlib.sha256(canonical.encode()).hexdigest()
