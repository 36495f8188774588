"""The merchant portal's sales screen: today's sales of the signed-in account's merchant with their
split lines and the day's totals, one sale's row for the live update, and the websocket token."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.services import invite_staff
from apps.members.services import join_member
from apps.sales.services import MemberRef, PaymentLine, record_sale, refund_sale
from atrium import tokens
from atrium.models import AuthSession
from tests.apps.settlement.statement_helpers import contract
from tests.conftest import PASSWORD, host_of
from tests.web import Browser, text

PHONE = "13800138000"


def in_schema(mall, fn):
    with tenant_context(mall):
        result = fn()
    connection.set_schema_to_public()
    return result


def sell(setup, external_id, total, *, phone=None, when=None):
    return record_sale(
        merchant=setup.merchant, external_id=external_id, occurred_at=when, total=total,
        payments=[PaymentLine(method="cash", amount=total)],
        member_ref=MemberRef(phone=phone) if phone else None,
    )  # fmt: skip


@pytest.fixture
def shops(mall_a, make_merchant):
    mine = make_merchant(mall_a, name="星巴克", cashier="sb-till")
    other = make_merchant(mall_a, name="麦当劳", cashier="mc-till")

    def seed():
        invite_staff(username="sb-boss", role=StaffRole.MERCHANT_MANAGER,
                     merchant=mine.merchant, password=PASSWORD)  # fmt: skip
        for setup in (mine, other):
            contract(setup.merchant, effective_from=dt.date(2026, 1, 1))
        member = join_member(channel="app", phone=PHONE).member
        yesterday = timezone.localtime() - dt.timedelta(days=1)
        sell(mine, "OLD-1", "999.00", when=yesterday)
        first = sell(mine, "SB-1", "100.00", phone=PHONE).sale
        second = sell(mine, "SB-2", "50.00").sale
        theirs = sell(other, "MC-1", "300.00", phone=PHONE).sale
        return member, first, second, theirs

    member, first, second, theirs = in_schema(mall_a, seed)
    return mine, other, member, first, second, theirs


@pytest.fixture
def boss(shops):
    browser = Browser(host_of("mall-a"))
    assert browser.sign_in("merchant", "sb-boss").status_code == 302
    return browser


def test_the_manager_sees_todays_sales_with_split_lines_and_totals(boss, shops):
    _, _, member, _, _, theirs = shops
    page = text(boss.get("/merchant/sales/"))
    assert re.search(r'data-testid="total-count">2<', page)
    assert re.search(r'data-testid="total-gross">¥150.00<', page)
    assert re.search(r'data-testid="total-merchant-share">¥120.00<', page)
    assert re.search(r'data-testid="total-commission">¥30.00<', page)
    assert re.search(r'data-testid="total-fees">¥0.00<', page)
    assert re.search(r'data-testid="points-issued">100<', page)
    assert re.search(r'data-testid="points-accepted">0<', page)
    # Newest first; yesterday's sale and the other merchant's are not on the page.
    assert re.findall(r'data-testid="sale-external-id">([^<]+)<', page) == ["SB-2", "SB-1"]
    assert "OLD-1" not in page
    assert "MC-1" not in page
    assert str(theirs.pk) not in page
    # The member is masked; each sale shows its split lines.
    assert "****" + member.member_no[-4:] in page
    assert member.member_no not in page
    assert page.count('data-kind="merchant_share"') == 2
    assert page.count('data-kind="commission"') == 2
    assert "¥80.00" in page
    assert "¥20.00" in page


def test_one_sale_row_is_found_only_for_the_own_merchant(boss, shops):
    _, _, _, first, _, theirs = shops
    row = text(boss.get(f"/merchant/sales/{first.pk}/row/"))
    assert re.findall(r'data-testid="sale-external-id">([^<]+)<', row) == ["SB-1"]
    assert re.findall(r'data-kind="(\w+)">.*?data-amount>¥([\d.]+)<', row, re.S) == [
        ("commission", "20.00"),
        ("merchant_share", "80.00"),
    ]
    assert boss.get(f"/merchant/sales/{theirs.pk}/row/").status_code == 404


def test_a_cashier_may_not_open_the_sales_screen(shops):
    cashier = Browser(host_of("mall-a"))
    assert cashier.sign_in("merchant", "sb-till").status_code == 302
    assert "sales-link" not in text(cashier.get("/merchant/"))
    assert cashier.get("/merchant/sales/").status_code == 403
    assert cashier.get(f"/merchant/sales/{shops[3].pk}/row/").status_code == 403
    assert cashier.get("/merchant/sales/token.json").status_code == 403


def test_signed_out_goes_to_the_sign_in(shops):
    response = Browser(host_of("mall-a")).get("/merchant/sales/")
    assert (response.status_code, response["Location"]) == (
        302,
        "/merchant/login/?next=/merchant/sales/",
    )


def test_the_socket_token_is_the_managers_one_session_and_ends_at_sign_out(boss, shops, mall_a):
    assert 'data-testid="sales-link"' in text(boss.get("/merchant/"))
    first = boss.get("/merchant/sales/token.json").json()["access_token"]
    second = boss.get("/merchant/sales/token.json").json()["access_token"]

    def claims():
        return [tokens.read_access_token(t) for t in (first, second)]

    one, two = in_schema(mall_a, claims)
    assert (one.subject_kind, one.session_id) == ("staff", two.session_id)
    assert in_schema(mall_a, lambda: AuthSession.objects.filter(pk=one.session_id).count()) == 1
    boss.post("/merchant/logout/")
    revoked = in_schema(mall_a, lambda: AuthSession.objects.get(pk=one.session_id).revoked_at)
    assert revoked is not None


def test_a_refund_shows_on_the_sale_and_nets_the_totals(boss, shops, mall_a):
    mine = shops[0]
    in_schema(
        mall_a,
        lambda: refund_sale(
            merchant=mine.merchant, external_id="SB-1", refund_id="R-1", amount="40.00"
        ),
    )
    page = text(boss.get("/merchant/sales/"))
    assert re.search(r'data-testid="total-gross">¥150.00<', page)
    assert re.search(r'data-testid="total-refunded">¥40.00<', page)
    assert re.search(r'data-testid="total-merchant-share">¥88.00<', page)
    assert re.search(r'data-testid="total-commission">¥22.00<', page)
    # Points issued count what the lots earned; a refund reverses points, it does not un-issue.
    assert re.search(r'data-testid="points-issued">100<', page)
    assert re.findall(r'data-testid="sale-refunded">([^<]+)<', page) == ["· 已退 ¥40.00"]
    assert page.count("· 退款</span>") == 2
