"""The batch endpoint: up to 500 sales per call, each in its own transaction."""

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.sales.models import Sale
from tests.apps.sales.conftest import sale_body, table_counts

BATCH = "/api/integration/v1/sales/batch"


def test_one_bad_sale_does_not_sink_the_others(pos, member, mall_a):
    pos.sale(sale_body("B-0", total="5.00"))  # already recorded: replayed in the batch
    sales = [
        sale_body("B-0", total="5.00"),
        sale_body("B-1", total="10.00", member={"member_no": member.member.member_no}),
        sale_body("B-2", total=10.5),  # a float: refused alone
        sale_body("B-3", total="10.00", payments=[{"method": "cash", "amount": "9.00"}]),
        sale_body("B-4", total="20.00"),
        {"external_id": "B-5"},
        "not an object",
        sale_body("B-6", total="7.00", member={"code": "000000000000000000"}),
    ]
    sales[0]["occurred_at"] = _recorded_time(mall_a, "B-0")
    response = pos.post(BATCH, {"sales": sales})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["replayed"], body["failed"]) == (2, 1, 5)
    outcome = [
        (r["index"], r["external_id"], r["status"], r["error"]["code"] if r["error"] else None)
        for r in body["results"]
    ]
    assert outcome == [
        (0, "B-0", "replayed", None),
        (1, "B-1", "created", None),
        (2, "B-2", "failed", "request.invalid"),
        (3, "B-3", "failed", "sales.total_mismatch"),
        (4, "B-4", "created", None),
        (5, "B-5", "failed", "request.invalid"),
        (6, None, "failed", "request.invalid"),
        (7, "B-6", "failed", "members.code_invalid"),
    ]
    assert body["results"][1]["result"]["points_earned"] == 10
    with tenant_context(mall_a):
        assert sorted(Sale.objects.values_list("external_id", flat=True)) == ["B-0", "B-1", "B-4"]
    connection.set_schema_to_public()


def _recorded_time(mall, external_id):
    with tenant_context(mall):
        occurred = Sale.objects.get(external_id=external_id).occurred_at
    connection.set_schema_to_public()
    return occurred.isoformat()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"sales": []}, "request.invalid"),
        ({"sales": [sale_body(f"M-{i}") for i in range(501)]}, "request.invalid"),
        ({"sales": "all of them"}, "request.invalid"),
        ({}, "request.invalid"),
    ],
)
def test_an_empty_oversized_or_malformed_batch_is_refused_whole(pos, mall_a, body, code):
    counts = table_counts(mall_a)
    response = pos.post(BATCH, body)
    assert (response.status_code, response.json()["code"]) == (422, code)
    assert table_counts(mall_a) == counts


def test_five_hundred_sales_in_one_call(pos, mall_a):
    sales = [sale_body(f"F-{i:03d}", total=f"{i + 1}.00") for i in range(500)]
    body = pos.post(BATCH, {"sales": sales}).json()
    assert (body["created"], body["failed"]) == (500, 0)
    assert [r["external_id"] for r in body["results"]] == [f"F-{i:03d}" for i in range(500)]
    with tenant_context(mall_a):
        assert Sale.objects.count() == 500
    connection.set_schema_to_public()
