"""Hypothesis: random lots (issued by merchants or granted by the mall, pending, expired, about
to expire), random funding policies over time, random clearing values, and random sequences of
points payments and partial refunds. Every entry's clearing lines sum to zero (lot by lot); the
acceptor gets exactly points × value per payment; each funder pays exactly its policy share of
each lot it funded; refunds cancel in proportion and a full refund leaves every party at zero;
and the ledger's own invariants hold throughout."""

import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.clearing.errors import PointsNotWholeError
from apps.clearing.models import ClearingLine
from apps.clearing.services import clear_points_payment, clear_points_refund, set_funding_policy
from apps.loyalty.errors import InsufficientPointsError
from apps.loyalty.models import PointsAccount, PointsLot
from apps.loyalty.selectors import open_lots_balance, posted_balance
from apps.loyalty.services import ledger
from apps.loyalty.services.program import update_program_settings
from apps.members.services import create_member
from apps.merchants.services import create_merchant

lot = st.tuples(
    st.one_of(st.none(), st.integers(0, 2)),  # issuer merchant index, None: the mall
    st.integers(1, 400),  # points
    st.integers(0, 420),  # age in days (over a year: expired)
    st.sampled_from([0, 0, 7]),  # pending days
)
policy = st.tuples(
    st.integers(1, 450),  # days ago it took effect
    st.sampled_from(["merchant", "mall", "shared"]),
    st.integers(1, 9999),  # shared: merchant share in 1/10000
)
operation = st.one_of(
    st.tuples(st.just("pay"), st.integers(0, 2), st.integers(1, 600)),  # cents
    st.tuples(st.just("refund"), st.integers(0, 5), st.integers(1, 100)),  # % of what is left
    st.tuples(st.just("expire"), st.just(0), st.just(0)),
)


def _check_entries():
    unbalanced = (
        ClearingLine.objects.values("entry_id", "lot_id")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .count()
    )
    assert unbalanced == 0


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lots=st.lists(lot, min_size=1, max_size=8),
    policies=st.lists(policy, max_size=3),
    value=st.sampled_from(["0.0100", "0.0125", "0.0050", "0.1000", "0.0300"]),
    operations=st.lists(operation, min_size=1, max_size=10),
)
def test_random_payments_and_refunds_clear_exactly(mall, lots, policies, value, operations):
    with transaction.atomic():  # each example starts from the same empty mall
        _run(lots, policies, value, operations)
        transaction.set_rollback(True)


def _run(lots, policies, value, operations):
    now = timezone.now()
    run = uuid.uuid4().hex  # examples share the test's transaction: keys unique per example
    point_value = Decimal(value)
    update_program_settings(point_value=point_value)
    shops = [create_merchant(name=f"m{i}") for i in range(3)]
    member = create_member(display_name="prop")
    shares: list[tuple[dt.datetime, Decimal]] = []
    for days_ago, source, share in sorted(policies, reverse=True):
        applied = set_funding_policy(
            source=source,
            merchant_share=Decimal(share) / 10000 if source == "shared" else None,
            now=now - dt.timedelta(days=days_ago, seconds=len(shares)),
        )
        shares.append((applied.effective_from, applied.merchant_share))
    for index, (issuer, points, age, pending) in enumerate(lots):
        earned = now - dt.timedelta(days=age, minutes=index)
        if issuer is None:
            ledger.adjust_points(
                member=member, points=points, reason="g", idempotency_key=f"{run}a{index}",
                actor="op", now=earned,
            )  # fmt: skip
        else:
            ledger.earn_points(
                member=member, points=points, idempotency_key=f"{run}e{index}", source_type="sale",
                source_id=f"s{index}", issuer_merchant_id=shops[issuer].pk, now=earned,
                pending_days=pending,
            )  # fmt: skip

    def expected_share(earned_at):
        share = Decimal(1)
        for effective, merchant_share in shares:
            if effective <= earned_at:
                share = merchant_share
        return share

    sales: list[tuple[uuid.UUID, Decimal]] = []
    refunded: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
    for step, (kind, who, size) in enumerate(operations):
        if kind == "pay":
            amount = Decimal(size) / 100
            sale_id = uuid.uuid4()
            before = ClearingLine.objects.count()
            try:
                result = clear_points_payment(
                    member=member, merchant=shops[who], amount=amount, sale_id=sale_id,
                    idempotency_key=f"{run}pay{step}", occurred_at=now, now=now,
                )  # fmt: skip
            except PointsNotWholeError:
                assert amount / point_value != int(amount / point_value)
                assert ClearingLine.objects.count() == before
                continue
            except InsufficientPointsError:
                assert ClearingLine.objects.count() == before
                continue
            assert result.points == amount / point_value
            lines = list(ClearingLine.objects.filter(entry_id=result.entry_id))
            acceptor = [line for line in lines if line.role == "acceptor"]
            assert {line.merchant_id for line in acceptor} == {shops[who].pk}
            assert sum(line.amount for line in acceptor) == amount
            assert sum(line.points for line in acceptor) == result.points
            lots_by_id = PointsLot.objects.in_bulk([line.lot_id for line in acceptor])
            for line in acceptor:
                charged = lots_by_id[line.lot_id]
                funders = [f for f in lines if f.role == "funder" and f.lot_id == line.lot_id]
                share = (
                    expected_share(charged.earned_at)
                    if charged.issuer_merchant_id is not None
                    else Decimal(0)
                )
                by_party = {f.merchant_id: f.amount for f in funders}
                merchant_part = by_party.get(charged.issuer_merchant_id, Decimal(0))
                if charged.issuer_merchant_id is None:
                    merchant_part = Decimal(0)
                assert abs(-merchant_part - line.amount * share) < Decimal("0.01")
                assert -sum(by_party.values()) == line.amount
                assert line.merchant_share == share
            sales.append((sale_id, amount))
        elif kind == "refund" and sales:
            sale_id, total = sales[who % len(sales)]
            left = total - refunded[sale_id]
            refunding = (left * size / 100).quantize(Decimal("0.01"))
            if refunding <= 0:
                continue
            clear_points_refund(
                member=member, sale_id=sale_id, sale_total=total,
                refunded_before=refunded[sale_id], refunding=refunding, refund_id=f"r{step}",
                idempotency_key=f"{run}refund{step}", occurred_at=now,
            )  # fmt: skip
            refunded[sale_id] += refunding
            net = dict(
                ClearingLine.objects.filter(sale_id=sale_id, role="acceptor")
                .values_list("sale_id")
                .annotate(total=Sum("amount"))
            )[sale_id]
            if refunded[sale_id] == total:
                parties = (
                    ClearingLine.objects.filter(sale_id=sale_id)
                    .values("merchant_id", "role")
                    .annotate(total=Sum("amount"), points=Sum("points"))
                )
                assert all(p["total"] == 0 and p["points"] == 0 for p in parties)
            else:
                assert Decimal(0) <= net <= total
        elif kind == "expire":
            ledger.expire_due_lots(now=now)
        _check_entries()
        balance = PointsAccount.objects.get(member=member).balance
        assert balance == posted_balance(member=member) == open_lots_balance(member=member)
