"""The POS integration API: sales, refunds and lookups, signed with a merchant's API key."""

import json
import time
from decimal import Decimal

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.members.models import Member
from apps.members.services import issue_member_code
from apps.sales.models import Sale
from atrium.models import OutboxEvent
from tests.apps.sales.conftest import (
    Pos,
    balance_of,
    in_schema,
    now_iso,
    sale_body,
    table_counts,
)
from tests.conftest import signed_headers

SALES = "/api/integration/v1/sales"


@pytest.fixture(params=["django", "ingest"])
def pos(shop, request):
    """Every case of this module through Django's request path and through the POS ingest."""
    return Pos(shop, via=request.param)


def test_a_member_sale_by_code_earns_points_and_growth(pos, member, mall_a, shop):
    body = sale_body(
        "T-100",
        total="128.50",
        member={"code": member.code(mall_a)},
        payments=[
            {"method": "card", "amount": "100.00", "trade_no": "CUP-9"},
            {"method": "coupon", "amount": "28.50"},
        ],
        items=[
            {"sku": "A1", "name": "Oolong", "category": "tea", "quantity": 2, "amount": "80.00"},
            {"sku": "B2", "name": "Cake", "category": "food", "quantity": "1.5", "amount": "48.50"},
        ],
    )
    response = pos.sale(body)
    assert response.status_code == 201, response.content
    answer = response.json()
    # ¥28.50 paid by coupon earns nothing: ¥100 at 1 point and 1 growth per yuan.
    assert {k: answer[k] for k in ("points_earned", "points_balance", "growth_earned", "tier")} == {
        "points_earned": 100,
        "points_balance": 100,
        "growth_earned": 100,
        "tier": "regular",
    }
    assert answer["member_id"] == str(member.member.pk)
    with tenant_context(mall_a):
        sale = Sale.objects.get(pk=answer["sale_id"])
        assert (sale.merchant_id, sale.external_id, sale.channel, sale.member_ref_kind) == (
            shop.merchant.pk,
            "T-100",
            "pos",
            "code",
        )
        assert (sale.total, sale.eligible_amount, sale.points_earned) == (
            Decimal("128.50"),
            Decimal("100.00"),
            100,
        )
        assert [(i.sku, i.quantity, i.amount) for i in sale.items.order_by("position")] == [
            ("A1", Decimal("2.000"), Decimal("80.00")),
            ("B2", Decimal("1.500"), Decimal("48.50")),
        ]
        assert [(p.method, p.amount, p.trade_no) for p in sale.payments.order_by("position")] == [
            ("card", Decimal("100.00"), "CUP-9"),
            ("coupon", Decimal("28.50"), ""),
        ]
        event = OutboxEvent.objects.get(topic="sales.sale_recorded")
        assert event.payload == {
            "sale_id": answer["sale_id"],
            "merchant_id": str(shop.merchant.pk),
            "member_id": str(member.member.pk),
            "external_id": "T-100",
            "channel": "pos",
            "occurred_at": sale.occurred_at.isoformat(),
            "total": "128.50",
            "eligible_amount": "100.00",
            "points_earned": 100,
            "growth_earned": 100,
        }
    connection.set_schema_to_public()
    assert balance_of(mall_a, member.member) == (100, 100)


def test_a_sale_without_a_member_is_recorded_too(pos, mall_a):
    response = pos.sale(sale_body("T-anon", total="59.90"))
    assert response.status_code == 201
    answer = response.json()
    assert {k: answer[k] for k in ("member_id", "points_earned", "points_balance", "tier")} == {
        "member_id": None,
        "points_earned": 0,
        "points_balance": None,
        "tier": None,
    }
    with tenant_context(mall_a):
        sale = Sale.objects.get(external_id="T-anon")
        assert (sale.member_id, sale.total, sale.eligible_amount) == (
            None,
            Decimal("59.90"),
            Decimal("59.90"),
        )
    connection.set_schema_to_public()


def test_member_by_phone_and_by_member_number(pos, member, mall_a):
    by_phone = pos.sale(sale_body("T-p", total="10.00", member={"phone": member.phone})).json()
    by_no = pos.sale(
        sale_body("T-n", total="20.00", member={"member_no": member.member.member_no})
    ).json()
    assert (by_phone["member_id"], by_phone["points_balance"]) == (str(member.member.pk), 10)
    assert (by_no["member_id"], by_no["points_balance"]) == (str(member.member.pk), 30)


def test_an_unknown_phone_joins_at_the_till(pos, mall_a):
    before = in_schema(mall_a, Member.objects.count)
    answer = pos.sale(sale_body("T-join", total="15.00", member={"phone": "13900139000"})).json()
    with tenant_context(mall_a):
        joined = Member.objects.get(pk=answer["member_id"])
        assert (Member.objects.count(), joined.registration_channel) == (before + 1, "till")
    connection.set_schema_to_public()
    assert answer["points_earned"] == 15


def test_an_identical_retry_answers_200_with_the_first_result(pos, member, mall_a):
    body = sale_body("T-retry", member={"code": member.code(mall_a)})
    first = pos.sale(body)
    counts = table_counts(mall_a)
    again = pos.sale(body)  # the code was used up by the first call: a retry still replays
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert table_counts(mall_a) == counts


def test_key_order_and_amount_spelling_do_not_make_another_body(pos, mall_a):
    when = now_iso()
    first = pos.sale(sale_body("T-canon", total="12.50", occurred_at=when))
    body = sale_body("T-canon", total="12.5", occurred_at=when)
    body["payments"] = [{"amount": "12.50", "method": "cash"}]
    again = pos.sale(body)
    assert (again.status_code, again.json()["sale_id"]) == (200, first.json()["sale_id"])


def test_the_same_external_id_with_another_body_is_409(pos, member, mall_a):
    pos.sale(sale_body("T-dup", total="10.00"))
    counts = table_counts(mall_a)
    other = pos.sale(sale_body("T-dup", total="11.00"))
    assert (other.status_code, other.json()["code"]) == (409, "idempotency.conflict")
    assert table_counts(mall_a) == counts


def test_two_merchants_may_use_the_same_external_id(pos, other_shop, mall_a):
    assert pos.sale(sale_body("SAME", total="10.00")).status_code == 201
    assert Pos(other_shop).sale(sale_body("SAME", total="10.00")).status_code == 201
    assert in_schema(mall_a, lambda: Sale.objects.filter(external_id="SAME").count()) == 2


def _future():
    return "2999-01-01T00:00:00+08:00"


BAD_SALES = [
    pytest.param({"total": 128.5}, 422, "request.invalid", id="float total"),
    pytest.param({"total": 128}, 422, "request.invalid", id="integer total"),
    pytest.param({"total": "12.345"}, 400, "sales.invalid_amount", id="three decimals"),
    pytest.param({"total": "-5.00"}, 400, "sales.invalid_amount", id="negative total"),
    pytest.param({"total": "0.00"}, 400, "sales.invalid_amount", id="zero total"),
    pytest.param({"total": "12,50"}, 400, "sales.invalid_amount", id="comma"),
    pytest.param({"total": "1e3"}, 400, "sales.invalid_amount", id="exponent"),
    pytest.param({"total": "NaN"}, 400, "sales.invalid_amount", id="nan"),
    pytest.param({"total": "1000000000000.00"}, 400, "sales.invalid_amount", id="too large"),
    pytest.param(
        {"payments": [{"method": "cash", "amount": "-128.50"}]},
        400,
        "sales.invalid_amount",
        id="negative payment",
    ),
    pytest.param(
        {"payments": [{"method": "cash", "amount": "100.00"}]},
        400,
        "sales.total_mismatch",
        id="payments short",
    ),
    pytest.param(
        {"items": [{"name": "x", "amount": "100.00"}]},
        400,
        "sales.total_mismatch",
        id="items short",
    ),
    pytest.param(
        {"items": [{"name": "x", "amount": "128.50", "quantity": -1}]},
        422,
        "request.invalid",
        id="negative quantity",
    ),
    pytest.param(
        {"payments": [{"method": "bitcoin", "amount": "128.50"}]},
        422,
        "request.invalid",
        id="unknown method",
    ),
    pytest.param({"payments": []}, 422, "request.invalid", id="no payments"),
    pytest.param({"external_id": "a/b"}, 422, "request.invalid", id="slash in external id"),
    pytest.param({"external_id": ""}, 422, "request.invalid", id="empty external id"),
    pytest.param({"occurred_at": "yesterday"}, 422, "request.invalid", id="bad time"),
    pytest.param({"occurred_at": _future()}, 400, "sales.invalid", id="future time"),
    pytest.param({"member": "M123"}, 422, "request.invalid", id="member not an object"),
    pytest.param({"member": {}}, 400, "sales.member_ref_invalid", id="member with no key"),
    pytest.param(
        {"member": {"phone": "13800138000", "member_no": "M1"}},
        400,
        "sales.member_ref_invalid",
        id="member with two keys",
    ),
    pytest.param(
        {"member": {"code": "999999999999999999"}}, 404, "members.code_invalid", id="code"
    ),
    pytest.param({"member": {"member_no": "M0000000000"}}, 404, "members.not_found", id="number"),
    pytest.param({"member": {"phone": "12345"}}, 400, "members.phone_invalid", id="bad phone"),
]


@pytest.mark.parametrize(("change", "status", "code"), BAD_SALES)
def test_bad_sales_are_refused_with_their_code_and_change_nothing(
    pos, mall_a, member, change, status, code
):
    counts = table_counts(mall_a)
    response = pos.sale({**sale_body("T-bad"), **change})
    assert (response.status_code, response.json()["code"]) == (status, code), response.content
    assert table_counts(mall_a) == counts


def test_a_body_that_is_not_json_is_400(pos, mall_a, shop):
    counts = table_counts(mall_a)
    raw = b"{not json"
    headers = signed_headers(shop.key_id, shop.secret, "POST", SALES, raw)
    response = pos.send(SALES, raw, headers)
    assert (response.status_code, response.json()["code"]) == (400, "request.malformed")
    assert table_counts(mall_a) == counts


def test_an_expired_code_is_refused(pos, member, mall_a):
    with tenant_context(mall_a):
        old = issue_member_code(member=member.member, at=time.time() - 600).code
    connection.set_schema_to_public()
    counts = table_counts(mall_a)
    response = pos.sale(sale_body("T-old", member={"code": old}))
    assert (response.status_code, response.json()["code"]) == (409, "members.code_expired")
    assert table_counts(mall_a) == counts


def test_a_code_used_for_one_sale_is_refused_for_another(pos, member, mall_a):
    code = member.code(mall_a)
    assert pos.sale(sale_body("T-first", member={"code": code})).status_code == 201
    counts = table_counts(mall_a)
    response = pos.sale(sale_body("T-second", member={"code": code}))
    assert (response.status_code, response.json()["code"]) == (409, "members.code_reused")
    assert table_counts(mall_a) == counts


def test_a_stale_signature_is_refused(pos, mall_a):
    counts = table_counts(mall_a)
    response = pos.sale(sale_body("T-stale"), timestamp=int(time.time()) - 3600)
    assert (response.status_code, response.json()["code"]) == (401, "auth.signature_expired")
    assert table_counts(mall_a) == counts


def test_a_replayed_signature_is_refused(pos, mall_a, shop):
    body = sale_body("T-replay")
    raw = json.dumps(body).encode()
    headers = signed_headers(shop.key_id, shop.secret, "POST", SALES, raw)
    first = pos.send(SALES, raw, headers)
    counts = table_counts(mall_a)
    again = pos.send(SALES, raw, headers)
    assert first.status_code == 201
    assert (again.status_code, again.json()["code"]) == (401, "auth.signature_replayed")
    assert table_counts(mall_a) == counts


def test_a_wrong_signature_and_no_signature_are_refused(pos, mall_a, shop):
    counts = table_counts(mall_a)
    body = sale_body("T-forged")
    raw = json.dumps(body).encode()
    headers = signed_headers(shop.key_id, "not-the-secret", "POST", SALES, raw)
    forged = pos.send(SALES, raw, headers)
    unsigned = pos.send(SALES, raw, {})
    assert (forged.status_code, forged.json()["code"]) == (401, "auth.signature_invalid")
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "auth.unauthenticated")
    assert table_counts(mall_a) == counts


# --- refunds ------------------------------------------------------------------------------------


def test_partial_then_full_refunds_reverse_in_proportion(pos, member, mall_a):
    pos.sale(sale_body("T-r", total="100.00", member={"code": member.code(mall_a)}))
    first = pos.refund("T-r", "R-1", "33.33")
    second = pos.refund("T-r", "R-2", "66.67")
    assert (first.status_code, second.status_code) == (201, 201)
    assert {k: first.json()[k] for k in ("refunded_total", "points_reversed", "status")} == {
        "refunded_total": "33.33",
        "points_reversed": 33,  # floor(100 × 33.33 / 100)
        "status": "partially_refunded",
    }
    assert {k: second.json()[k] for k in ("refunded_total", "points_reversed", "status")} == {
        "refunded_total": "100.00",
        "points_reversed": 67,  # the rest: all refunds together take back exactly 100
        "status": "refunded",
    }
    assert balance_of(mall_a, member.member) == (0, 0)
    with tenant_context(mall_a):
        sale = Sale.objects.get(external_id="T-r")
        assert (sale.points_reversed, sale.growth_reversed) == (100, 100)
        assert OutboxEvent.objects.filter(topic="sales.sale_refunded").count() == 2
    connection.set_schema_to_public()


def test_a_refund_retry_answers_200_and_another_amount_is_409(pos, member, mall_a):
    pos.sale(sale_body("T-rr", total="50.00", member={"code": member.code(mall_a)}))
    first = pos.refund("T-rr", "R-1", "10.00")
    counts = table_counts(mall_a)
    again = pos.refund("T-rr", "R-1", "10.00")
    other = pos.refund("T-rr", "R-1", "11.00")
    assert (again.status_code, again.json()) == (200, first.json())
    assert (other.status_code, other.json()["code"]) == (409, "idempotency.conflict")
    assert table_counts(mall_a) == counts


def test_a_refund_never_exceeds_what_is_left(pos, mall_a):
    pos.sale(sale_body("T-x", total="50.00"))
    assert pos.refund("T-x", "R-1", "40.00").status_code == 201
    counts = table_counts(mall_a)
    response = pos.refund("T-x", "R-2", "10.01")
    assert (response.status_code, response.json()["code"]) == (409, "sales.refund_exceeds_sale")
    assert response.json()["extra"] == {"refundable": "10.00", "requested": "10.01"}
    assert table_counts(mall_a) == counts


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"refund_id": "R-1", "amount": 5.0}, 422, "request.invalid"),
        ({"refund_id": "R-1", "amount": "5.001"}, 400, "sales.invalid_amount"),
        ({"refund_id": "R-1", "amount": "-5.00"}, 400, "sales.invalid_amount"),
        ({"refund_id": "R-1", "amount": "0"}, 400, "sales.invalid_amount"),
        ({"refund_id": "R 1", "amount": "5.00"}, 422, "request.invalid"),
        ({"amount": "5.00"}, 422, "request.invalid"),
    ],
)
def test_bad_refunds_are_refused_and_change_nothing(pos, mall_a, body, status, code):
    pos.sale(sale_body("T-b", total="50.00"))
    counts = table_counts(mall_a)
    response = pos.post(f"{SALES}/T-b/refunds", body)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert table_counts(mall_a) == counts


def test_refunding_an_unknown_or_another_merchants_sale_is_404(pos, other_shop, mall_a):
    Pos(other_shop).sale(sale_body("THEIRS", total="50.00"))
    counts = table_counts(mall_a)
    for external_id in ("THEIRS", "NOPE"):
        response = pos.refund(external_id, "R-1", "5.00")
        assert (response.status_code, response.json()["code"]) == (404, "sales.not_found")
        looked = pos.get(f"{SALES}/{external_id}")
        assert (looked.status_code, looked.json()["code"]) == (404, "sales.not_found")
    assert table_counts(mall_a) == counts


def test_a_pos_reads_its_own_sale(pos, mall_a):
    pos.sale(sale_body("T-read", total="20.00", items=[{"name": "Tea", "amount": "20.00"}]))
    pos.refund("T-read", "R-1", "5.00")
    body = pos.get(f"{SALES}/T-read").json()
    assert (body["total"], body["refunded_total"], body["status"]) == (
        "20.00",
        "5.00",
        "partially_refunded",
    )
    assert [i["name"] for i in body["items"]] == ["Tea"]
    assert [r["refund_id"] for r in body["refunds"]] == ["R-1"]


def test_a_refund_after_the_member_spent_the_points_takes_what_is_left(pos, member, mall_a):
    from apps.loyalty.services import ledger

    pos.sale(sale_body("T-s", total="100.00", member={"code": member.code(mall_a)}))
    with tenant_context(mall_a):
        ledger.redeem_points(member=member.member, points=90, idempotency_key="spend-90")
    connection.set_schema_to_public()
    answer = pos.refund("T-s", "R-1", "100.00").json()
    assert (answer["points_reversed"], answer["points_balance"]) == (10, 0)
    with tenant_context(mall_a):
        assert Sale.objects.get(external_id="T-s").points_reversed == 10
    connection.set_schema_to_public()


def test_time_without_an_offset_is_read_in_the_malls_time_zone(pos, mall_a):
    import datetime as dt
    from zoneinfo import ZoneInfo

    local = dt.datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0, tzinfo=None)
    local -= dt.timedelta(minutes=5)
    pos.sale(sale_body("T-local", occurred_at=local.isoformat()))
    with tenant_context(mall_a):
        occurred = Sale.objects.get(external_id="T-local").occurred_at
    connection.set_schema_to_public()
    assert occurred == local.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
