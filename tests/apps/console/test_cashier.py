"""The merchant portal's cashier screen: a sale by member code or phone through record_sale,
points and balance shown, today's sales of this merchant only."""

import re

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.members.models import Member
from apps.members.services import issue_member_code, join_member
from apps.sales.models import Sale
from tests.conftest import host_of
from tests.web import Browser, text

PHONE = "13800138000"


def in_schema(mall, fn):
    with tenant_context(mall):
        result = fn()
    connection.set_schema_to_public()
    return result


@pytest.fixture
def shop(mall_a, make_merchant):
    return make_merchant(mall_a, name="星巴克", cashier="till-1")


@pytest.fixture
def cashier(shop):
    browser = Browser(host_of("mall-a"))
    assert browser.sign_in("merchant", "till-1").status_code == 302
    return browser


@pytest.fixture
def member(mall_a):
    return in_schema(mall_a, lambda: join_member(channel="app", phone=PHONE).member)


def form_id(browser):
    body = text(browser.get("/merchant/"))
    return re.search(r'name="external_id" value="([^"]+)"', body).group(1)


def sell(browser, member_field, amount="128.50", method="wechat", external_id=None):
    return browser.post(
        "/merchant/",
        {
            "member": member_field,
            "amount": amount,
            "method": method,
            "external_id": external_id or form_id(browser),
        },
    )


def test_a_cashier_records_a_sale_by_member_code_and_sees_points_and_balance(
    cashier, member, mall_a, shop
):
    code = in_schema(mall_a, lambda: issue_member_code(member=member).code)

    response = sell(cashier, code)
    page = text(cashier.get("/merchant/"))

    assert (response.status_code, response["Location"]) == (302, "/merchant/")
    sale = in_schema(mall_a, lambda: Sale.objects.get())
    assert (sale.member_id, sale.merchant_id, sale.channel, str(sale.total)) == (
        member.pk,
        shop.merchant.pk,
        "portal",
        "128.50",
    )
    assert (sale.points_earned, sale.points_balance) == (128, 128)
    assert re.search(r'data-testid="sale-points">\+128<', page)
    assert re.search(r'data-testid="sale-balance">128<', page)
    assert member.member_no in page
    assert re.search(r'data-testid="today-summary">1 笔 · ¥128.50 · 128 积分<', page)
    # Shown once: a reload does not show the result again.
    assert 'data-testid="sale-result"' not in text(cashier.get("/merchant/"))


def test_a_phone_typed_at_the_till_finds_the_member(cashier, member, mall_a):
    sell(cashier, "138-0013-8000", amount="20.00")

    sale = in_schema(mall_a, lambda: Sale.objects.get())
    assert (sale.member_id, sale.member_ref_kind, sale.points_earned) == (member.pk, "phone", 20)


def test_a_sale_without_a_member_is_recorded_without_points(cashier, mall_a):
    response = sell(cashier, "", amount="9.90", method="cash")

    assert response.status_code == 302
    sale = in_schema(mall_a, lambda: Sale.objects.get())
    assert (sale.member_id, sale.points_earned) == (None, 0)
    assert "非会员消费，未积分。" in text(cashier.get("/merchant/"))


def test_submitting_the_same_screen_twice_records_one_sale(cashier, member, mall_a):
    external_id = form_id(cashier)
    code = in_schema(mall_a, lambda: issue_member_code(member=member).code)

    sell(cashier, code, external_id=external_id)
    again = sell(cashier, code, external_id=external_id)

    assert again.status_code == 302
    assert in_schema(mall_a, lambda: Sale.objects.count()) == 1
    assert "这笔消费已记录过，以下是当时的结果" in text(cashier.get("/merchant/"))


@pytest.mark.parametrize(
    ("member_field", "amount", "message"),
    [
        ("912345678901234567", "10.00", "会员码无效，请让会员刷新后重新出示。"),
        ("", "0", "确保该值大于或等于0.01。"),
        ("", "1.234", "确认小数不超过 2 位."),
    ],
)
def test_bad_input_records_nothing_and_says_why(cashier, mall_a, member_field, amount, message):
    response = sell(cashier, member_field, amount=amount)

    assert response.status_code == 400
    assert message in text(response)
    assert in_schema(mall_a, lambda: Sale.objects.count()) == 0


def test_a_used_member_code_is_refused(cashier, member, mall_a):
    code = in_schema(mall_a, lambda: issue_member_code(member=member).code)
    sell(cashier, code)

    response = sell(cashier, code)

    assert response.status_code == 400
    assert "这个会员码已经用过了，请让会员刷新后重新出示。" in text(response)
    assert in_schema(mall_a, lambda: Sale.objects.count()) == 1


def test_a_cashier_never_sees_another_merchants_sales(cashier, member, mall_a, make_merchant):
    other = make_merchant(mall_a, name="优衣库", cashier="till-2")
    other_browser = Browser(host_of("mall-a"))
    other_browser.sign_in("merchant", "till-2")
    sell(other_browser, PHONE, amount="666.00")
    sell(cashier, PHONE, amount="12.00")

    mine = text(cashier.get("/merchant/"))
    theirs = text(other_browser.get("/merchant/"))

    assert "¥12.00" in mine
    assert "¥666.00" not in mine
    assert "¥666.00" in theirs
    assert "¥12.00" not in theirs
    assert other.merchant.name not in mine


def test_mall_staff_are_sent_to_the_merchant_sign_in(mall_a):
    browser = Browser(host_of("mall-a"))
    browser.sign_in("console", "owner")

    response = browser.post(
        "/merchant/", {"amount": "10.00", "method": "cash", "external_id": "X1"}
    )

    assert response.status_code == 302
    assert response["Location"].startswith("/merchant/login/")
    assert in_schema(mall_a, lambda: Sale.objects.count()) == 0


def test_a_cashier_of_mall_a_is_signed_out_on_mall_b(cashier, mall_b):
    on_b = Browser(host_of("mall-b"))
    on_b.client.cookies["sessionid"] = cashier.session_cookie

    assert on_b.get("/merchant/").status_code == 302
    assert in_schema(mall_b, lambda: Member.objects.count()) == 0
