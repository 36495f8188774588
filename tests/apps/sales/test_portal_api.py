"""The merchant portal's cashier screen: scan the member code, enter the amount; own sales only."""

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.services import invite_staff
from apps.sales.models import Sale
from tests.apps.sales.conftest import HOST_A, Pos, balance_of, sale_body, table_counts
from tests.conftest import PASSWORD, Api, login

SALES = "/api/merchant/v1/sales"


def test_a_cashier_records_a_sale_by_member_code(portal, member, mall_a, shop):
    body = {
        "member": {"code": member.code(mall_a)},
        "total": "66.00",
        "payments": [{"method": "wechat", "amount": "66.00"}],
    }
    response = portal.post(SALES, body)
    assert response.status_code == 201, response.content
    answer = response.json()
    assert (answer["points_earned"], answer["points_balance"], answer["tier"]) == (
        66,
        66,
        "regular",
    )
    with tenant_context(mall_a):
        sale = Sale.objects.get(pk=answer["sale_id"])
        assert (sale.merchant_id, sale.channel, sale.actor) == (
            shop.merchant.pk,
            "portal",
            f"staff:{shop.cashier.pk}",
        )
        assert len(sale.external_id) == 32  # made up by the server when the screen gives none
    connection.set_schema_to_public()
    assert balance_of(mall_a, member.member) == (66, 66)


def test_a_checkout_id_makes_the_cashier_screen_safe_to_retry(portal, mall_a):
    body = {
        "external_id": "CO-1",
        "total": "9.90",
        "payments": [{"method": "cash", "amount": "9.90"}],
    }
    first = portal.post(SALES, body)
    again = portal.post(SALES, body)
    assert (first.status_code, again.status_code, again.json()) == (201, 200, first.json())


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"total": "9.999"}, 400, "sales.invalid_amount"),
        ({"total": 9.9}, 422, "request.invalid"),
        ({"total": "10.00"}, 400, "sales.total_mismatch"),
        ({"member": {"code": "123456789012345678"}}, 404, "members.code_invalid"),
    ],
)
def test_bad_cashier_input_changes_nothing(portal, mall_a, change, status, code):
    counts = table_counts(mall_a)
    body = {"total": "9.90", "payments": [{"method": "cash", "amount": "9.90"}], **change}
    response = portal.post(SALES, body)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert table_counts(mall_a) == counts


def test_a_merchant_lists_and_reads_only_its_own_sales(portal, pos, other_shop, mall_a):
    pos.sale(sale_body("MINE-1", total="10.00"))
    pos.sale(sale_body("MINE-2", total="20.00"))
    Pos(other_shop).sale(sale_body("THEIRS-1", total="30.00"))
    listed = portal.get(SALES).json()
    assert [s["external_id"] for s in listed["results"]] == ["MINE-2", "MINE-1"]
    assert portal.get(f"{SALES}/MINE-1").json()["total"] == "10.00"
    for path in (f"{SALES}/THEIRS-1", f"{SALES}/NOPE"):
        response = portal.get(path)
        assert (response.status_code, response.json()["code"]) == (404, "sales.not_found")
    counts = table_counts(mall_a)
    refused = portal.post(f"{SALES}/THEIRS-1/refunds", {"refund_id": "R-1", "amount": "1.00"})
    assert (refused.status_code, refused.json()["code"]) == (404, "sales.not_found")
    assert table_counts(mall_a) == counts


def test_a_cashier_refunds_own_sale(portal, pos, member, mall_a):
    pos.sale(sale_body("MINE-R", total="40.00", member={"code": member.code(mall_a)}))
    response = portal.post(f"{SALES}/MINE-R/refunds", {"refund_id": "R-1", "amount": "10.00"})
    assert response.status_code == 201
    assert (response.json()["points_reversed"], response.json()["points_balance"]) == (10, 30)


def test_mall_staff_cannot_use_the_merchant_portal(console_a):
    response = Api(HOST_A, console_a.token).post(
        SALES, {"total": "1.00", "payments": [{"method": "cash", "amount": "1.00"}]}
    )
    assert response.status_code == 401


def test_a_merchant_manager_may_sell_too(shop, mall_a):
    with tenant_context(mall_a):
        invite_staff(
            username="tea-boss", role=StaffRole.MERCHANT_MANAGER, merchant=shop.merchant,
            password=PASSWORD,
        )  # fmt: skip
    connection.set_schema_to_public()
    api = Api(HOST_A)
    manager = api.as_token(login(api, "merchant", "tea-boss")["access_token"])
    body = {"total": "1.00", "payments": [{"method": "cash", "amount": "1.00"}]}
    assert manager.post(SALES, body).status_code == 201
