"""The set-based writer `record_sales`: a batch gives exactly what the same sales recorded one by
one give (points, growth, balances, tiers, ledger rows, events), sales of one member apply in
order, a repeated external id inside a batch replays or conflicts, refused sales write nothing."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.loyalty.choices import RuleKind, RuleStatus
from apps.loyalty.models import (
    EarningRule,
    GrowthEntry,
    JournalEntry,
    LotMovement,
    PointsAccount,
    PointsLot,
    Posting,
    TierChange,
)
from apps.loyalty.selectors import open_lots_balance, posted_balance
from apps.members.errors import MemberCodeReusedError, MemberNotFoundError
from apps.members.services import create_member, issue_member_code
from apps.merchants.services import create_merchant
from apps.sales.models import Sale, SaleItem, SalePayment
from apps.sales.selectors import recorded_sales_statement
from apps.sales.services import (
    ItemLine,
    MemberRef,
    PaymentLine,
    SaleRequest,
    record_merchants_sales,
    record_sale,
    record_sales,
)
from atrium.errors import IdempotencyConflictError
from atrium.models import OutboxEvent
from atrium.sql import run_statements

AT = timezone.now() - dt.timedelta(minutes=5)  # today (the seeded base rate starts today)


@pytest.fixture
def shop(mall):
    return create_merchant(name="Writer Shop", business_format="fnb")


def _request(external_id, total, member=None, **kw):
    return SaleRequest(
        external_id=external_id,
        occurred_at=kw.pop("occurred_at", timezone.now() - dt.timedelta(minutes=1)),
        total=total,
        payments=kw.pop("payments", [PaymentLine("cash", total)]),
        member=member,
        **kw,
    )


def _ledger(member):
    account = PointsAccount.objects.select_related("tier").filter(member=member).first()
    return (account.balance, account.growth, account.tier.code) if account else None


def _outcome(result):
    """What a caller sees of one sale's result (the error's type for a refused one)."""
    if isinstance(result, Exception):
        return type(result).__name__
    s = result.sale
    return (result.created, s.merchant_id, s.total, s.eligible_amount, s.points_earned,
            s.growth_earned, s.points_balance, s.tier_code)  # fmt: skip


def _check_invariants(members):
    unbalanced = (
        Posting.objects.values("entry").annotate(total=Sum("amount")).exclude(total=0).count()
    )
    assert unbalanced == 0
    for member in members:
        account = PointsAccount.objects.filter(member=member).first()
        balance = account.balance if account else 0
        assert balance == posted_balance(member=member) == open_lots_balance(member=member)


def test_one_members_sales_in_a_batch_apply_in_order_across_a_tier_upgrade(shop):
    member = create_member(display_name="climber")
    results = record_sales(
        merchant=shop,
        requests=[
            _request("U-1", "1500.00", member),
            _request("U-2", "600.00", member),  # growth 2,100: silver from here on
            _request("U-3", "100.00", member),  # earns 100 × 1.2
        ],
    )
    assert [(r.created, r.points_earned, r.points_balance, r.tier) for r in results] == [
        (True, 1500, 1500, "regular"),
        (True, 600, 2100, "silver"),
        (True, 120, 2220, "silver"),
    ]
    assert _ledger(member) == (2220, 2200, "silver")
    changes = list(
        TierChange.objects.filter(member=member)
        .order_by("created_at", "id")
        .values_list("from_tier__code", "to_tier__code", "reason", "growth")
    )
    assert changes == [(None, "regular", "joined", 0), ("regular", "silver", "upgrade", 2100)]
    assert list(
        PointsLot.objects.filter(member=member)
        .order_by("original")
        .values_list("original", "remaining", "issuer_merchant_id")
    ) == [(120, 120, shop.pk), (600, 600, shop.pk), (1500, 1500, shop.pk)]
    assert LotMovement.objects.filter(lot__member=member).count() == 3
    assert GrowthEntry.objects.filter(member=member).count() == 3
    _check_invariants([member])
    topics = list(
        OutboxEvent.objects.exclude(topic="members.joined")
        .order_by("created_at", "id")
        .values_list("topic", flat=True)
    )
    assert topics == [
        "loyalty.tier_changed",
        "loyalty.points_changed",
        "sales.sale_recorded",
        "loyalty.points_changed",
        "loyalty.tier_changed",
        "sales.sale_recorded",
        "loyalty.points_changed",
        "sales.sale_recorded",
    ]


def test_a_day_cap_counts_the_sales_earlier_in_the_same_batch(shop):
    EarningRule.objects.create(
        name="cap", kind=RuleKind.CAP, status=RuleStatus.PUBLISHED, per_day_cap=250,
        effective_from=dt.date(2020, 1, 1),
    )  # fmt: skip
    member = create_member(display_name="capped")
    record_sale(
        merchant=shop, external_id="C-0", occurred_at=None, total="100.00",
        payments=[PaymentLine("cash", "100.00")], member=member,
    )  # fmt: skip
    results = record_sales(
        merchant=shop,
        requests=[_request(f"C-{i}", "100.00", member) for i in (1, 2, 3)],
    )
    assert [r.points_earned for r in results] == [100, 50, 0]
    assert [r.growth_earned for r in results] == [100, 100, 100]
    assert JournalEntry.objects.filter(member=member).aggregate(s=Sum("points"))["s"] == 250
    _check_invariants([member])


def test_a_repeated_external_id_in_a_batch_replays_the_first_or_conflicts(shop):
    member = create_member(display_name="twice")
    results = record_sales(
        merchant=shop,
        requests=[
            _request("D-1", "10.00", member, occurred_at=AT),
            _request("D-1", "10.00", member, occurred_at=AT),
            _request("D-1", "11.00", member),
        ],
    )
    assert [r.created for r in results[:2]] == [True, False]
    assert results[1].sale.pk == results[0].sale.pk
    assert isinstance(results[2], IdempotencyConflictError)
    assert (Sale.objects.count(), _ledger(member)) == (1, (10, 10, "regular"))


def test_refused_sales_in_a_batch_write_nothing_and_the_others_are_recorded(shop):
    member = create_member(display_name="coded")
    code = issue_member_code(member=member).code
    results = record_sales(
        merchant=shop,
        requests=[
            _request("R-1", "20.00", member_ref=MemberRef(code=code)),
            _request("R-2", "30.00", member_ref=MemberRef(code=code)),  # the code is spent
            _request("R-3", "40.00", member_ref=MemberRef(member_no="NOSUCH")),
            _request("R-4", "50.00", items=[ItemLine("50.00", sku="A", category="tea")]),
        ],
    )
    assert results[0].points_earned == 20
    assert isinstance(results[1], MemberCodeReusedError)
    assert isinstance(results[2], MemberNotFoundError)
    assert (results[3].created, results[3].sale.member_id) == (True, None)
    assert sorted(Sale.objects.values_list("external_id", flat=True)) == ["R-1", "R-4"]
    assert SalePayment.objects.count() == 2
    assert list(SaleItem.objects.values_list("sku", "category", "amount")) == [
        ("A", "tea", Decimal("50.00"))
    ]
    assert _ledger(member) == (20, 20, "regular")
    assert Sale.objects.get(external_id="R-4").eligible_amount == Decimal("50.00")


sale = st.tuples(
    st.integers(0, 2),  # which member (2: no member)
    st.integers(1, 400_000).map(lambda cents: Decimal(cents) / 100),
    st.integers(0, 5),  # external id: repeats replay (or conflict when the body differs)
    st.sampled_from(["cash", "coupon"]),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sales=st.lists(sale, min_size=1, max_size=12))
@pytest.mark.parametrize("speculate_from", [1, 10_000], ids=["planned-early", "planned-locked"])
def test_a_batch_equals_the_same_sales_recorded_one_by_one(shop, sales, speculate_from):
    """Whether the batch plans its awards before the accounts' locks (ADR 0019) or under them."""
    import apps.sales.services.sales as writer

    writer.SPECULATE_FROM, default = speculate_from, writer.SPECULATE_FROM
    try:
        _batch_equals_one_by_one(shop, sales)
    finally:
        writer.SPECULATE_FROM = default


def _batch_equals_one_by_one(shop, sales):
    def run(prefix):
        members = [create_member(display_name=f"{prefix}{i}") for i in range(2)]
        requests = [
            _request(
                f"{prefix}-{ext}",
                str(total),
                members[who] if who < 2 else None,
                occurred_at=AT,
                payments=[
                    PaymentLine("cash", str(total - total // 4)),
                    PaymentLine(method, str(total // 4)),
                ]
                if total // 4
                else [PaymentLine("cash", str(total))],
            )
            for who, total, ext, method in sales
        ]
        return members, requests

    batch_members, batch = run("b")
    single_members, singles = run("s")
    together = record_sales(merchant=shop, requests=batch)
    alone = [record_sales(merchant=shop, requests=[request])[0] for request in singles]

    assert [_outcome(r) for r in together] == [_outcome(r) for r in alone]
    assert [_ledger(m) for m in batch_members] == [_ledger(m) for m in single_members]
    assert [TierChange.objects.filter(member=m).count() for m in batch_members] == [
        TierChange.objects.filter(member=m).count() for m in single_members
    ]
    _check_invariants(batch_members + single_members)


def _group_request(external_id, total, members, who, method):
    buyer = members[who] if who < 2 else None
    payments = [PaymentLine(method, str(total))]
    return _request(external_id, str(total), buyer, occurred_at=AT, payments=payments)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sales=st.lists(st.tuples(st.integers(0, 2), sale), min_size=1, max_size=12))
def test_a_group_of_many_merchants_equals_its_sales_recorded_one_by_one(shop, sales):
    """The group commit's writer: sales of several shops in one transaction give what each
    shop's sales recorded alone give, and one external id at two shops is two sales."""
    shops = [shop, create_merchant(name="Second Shop"), create_merchant(name="Third Shop")]

    def run(prefix):
        members = [create_member(display_name=f"{prefix}{i}") for i in range(2)]
        requests = [
            (shops[which], _group_request(f"{prefix}-{ext}", total, members, who, method))
            for which, (who, total, ext, method) in sales
        ]
        return members, requests

    example = uuid.uuid4().hex[:8]  # examples share the database: ids of their own
    group_members, group = run(f"g{example}")
    single_members, singles = run(f"s{example}")
    together = record_merchants_sales(group)
    alone = [record_sales(merchant=m, requests=[request])[0] for m, request in singles]

    assert [_outcome(r) for r in together] == [_outcome(r) for r in alone]
    assert [_ledger(m) for m in group_members] == [_ledger(m) for m in single_members]
    keys = {(which, ext) for which, (_, _, ext, _) in sales}
    assert Sale.objects.filter(external_id__startswith=f"g{example}-").count() == len(keys)
    _check_invariants(group_members + single_members)


def test_the_rows_a_batch_answers_with_are_the_rows_it_stored(shop, django_assert_num_queries):
    member = create_member(display_name="row reader")
    results = record_sales(
        merchant=shop,
        requests=[
            _request("ROW-1", "88.00", member, actor="api_key:1"),
            _request("ROW-2", "12.50", items=[ItemLine("12.50", sku="S", category="snacks")]),
        ],
    )
    fields = [f.attname for f in Sale._meta.concrete_fields]
    for result in results:
        stored = Sale.objects.get(pk=result.sale.pk)
        answered = {name: getattr(result.sale, name) for name in fields}
        assert answered == {name: getattr(stored, name) for name in fields}
        assert result.sale._state.adding is False
    # Their merchant and member come with them: reading them queries nothing.
    with django_assert_num_queries(0):
        assert [(r.sale.merchant, r.sale.member) for r in results] == [
            (shop, member),
            (shop, None),
        ]
    first, second = (r.sale for r in results)
    assert (first.merchant_id, first.member_id, first.external_id, first.channel) == (
        shop.pk, member.pk, "ROW-1", "pos",
    )  # fmt: skip
    assert (first.total, first.eligible_amount, first.points_earned, first.growth_earned) == (
        Decimal("88.00"), Decimal("88.00"), 88, 88,
    )  # fmt: skip
    assert (first.points_balance, first.tier_code, first.member_ref_kind, first.actor) == (
        88, "regular", "direct", "api_key:1",
    )  # fmt: skip
    assert (first.refunded_total, first.points_reversed, first.growth_reversed) == (0, 0, 0)
    assert (second.member_id, second.external_id, second.total, second.points_balance) == (
        None, "ROW-2", Decimal("12.50"), None,
    )  # fmt: skip
    assert (second.member_ref_kind, second.status, second.actor) == ("", "recorded", "")
    assert len(first.request_hash) == 64
    assert first.request_hash != second.request_hash
    assert first.created_at == second.created_at
    assert first.occurred_at < first.created_at


def test_a_buyer_named_by_number_is_read_without_their_personal_data(
    shop, django_assert_num_queries
):
    member = create_member(display_name="Lin", name="林小姐", birthday=dt.date(1990, 5, 1))
    (result,) = record_sales(
        merchant=shop,
        requests=[_request("NO-1", "30.00", member_ref=MemberRef(member_no=member.member_no))],
    )
    buyer = result.sale.member
    assert (buyer.pk, buyer.member_no, buyer.status) == (member.pk, member.member_no, "active")
    assert {"name", "display_name", "birthday", "code_secret"} <= buyer.get_deferred_fields()
    with django_assert_num_queries(2):  # each read when first used, as with .only()
        assert (buyer.name, buyer.birthday) == ("林小姐", dt.date(1990, 5, 1))


def _scans(table: str) -> tuple[int, int]:
    """(sequential, index) scans of a table in this transaction so far."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relid = %s::regclass",
            [table],
        )
        return cursor.fetchone()


def test_the_replay_lookup_is_planned_for_the_sales_table_it_finds_not_the_one_it_first_saw(
    shop,
):
    # A new mall's sales table holds a few rows when its first writes run. A prepared lookup
    # turns to a generic plan after five runs and keeps it until the table is analyzed again:
    # planned on a one-page table, it would scan the whole table on every write once the table
    # holds thousands of sales.
    record_sale(
        merchant=shop, external_id="P-0", occurred_at=AT, total="10.00",
        payments=[PaymentLine("cash", "10.00")],
    )  # fmt: skip
    table = Sale._meta.db_table
    keys = [(shop.pk, "P-0"), (shop.pk, "P-1"), (shop.pk, "P-2")]
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
    for _ in range(8):
        assert len(run_statements([recorded_sales_statement(keys=keys)])[0]) == 1
    columns = [f.column for f in Sale._meta.concrete_fields]
    copied = [
        "gen_random_uuid()" if c == "id" else "'C-' || g" if c == "external_id" else c
        for c in columns
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(copied)} "
            f"FROM {table}, generate_series(1, 20000) AS g WHERE external_id = 'P-0'"
        )
    seq_before, idx_before = _scans(table)
    rows = run_statements([recorded_sales_statement(keys=[*keys, (shop.pk, "C-7")])])[0]
    assert sorted(row[1] for row in rows) == ["C-7", "P-0"]
    seq_after, idx_after = _scans(table)
    assert seq_after == seq_before  # no pass through the table: it looked the keys up
    assert idx_after > idx_before
