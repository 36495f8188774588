"""The settlement desk (console) and the merchant's statement pages, server-rendered."""

import datetime as dt
import re

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.services import invite_staff
from apps.settlement.models import Statement
from tests.apps.settlement.statement_helpers import at, concession_sale, contract
from tests.conftest import PASSWORD, host_of
from tests.web import Browser, text


@pytest.fixture
def shops(mall_a, make_merchant):
    mine = make_merchant(mall_a, name="星巴克", cashier="sb-till")
    other = make_merchant(mall_a, name="麦当劳", cashier="mc-till")
    with tenant_context(mall_a):
        invite_staff(username="sb-boss", role=StaffRole.MERCHANT_MANAGER,
                     merchant=mine.merchant, password=PASSWORD)  # fmt: skip
        for setup, amount in ((mine, "1000.00"), (other, "500.00")):
            contract(setup.merchant, effective_from=dt.date(2026, 10, 1))
            concession_sale(setup.merchant, amount, "0.20", at(dt.date(2026, 10, 9)))
    connection.set_schema_to_public()
    return mine, other


def statement_of(mall, merchant):
    with tenant_context(mall):
        found = Statement.objects.get(merchant=merchant.merchant, period_start=dt.date(2026, 10, 1))
    connection.set_schema_to_public()
    return found


def test_finance_closes_issues_and_the_merchant_confirms(mall_a, shops):
    mine, other = shops
    owner = Browser(host_of("mall-a"))
    owner.sign_in("console", "owner")
    assert owner.post("/console/settlement/close/").status_code == 302
    page = text(owner.get("/console/settlement/"))
    assert "星巴克" in page
    assert "麦当劳" in page
    assert "¥800.00" in page
    statement = statement_of(mall_a, mine)
    assert (
        owner.post("/console/settlement/issue/", {"statement": [str(statement.pk)]}).status_code
        == 302
    )
    assert statement_of(mall_a, mine).status == "issued"
    assert statement_of(mall_a, other).status == "draft"

    boss = Browser(host_of("mall-a"))
    boss.sign_in("merchant", "sb-boss")
    listed = text(boss.get("/merchant/statements/"))
    assert statement.number in listed
    assert statement_of(mall_a, other).number not in listed
    detail = text(boss.get(f"/merchant/statements/{statement.pk}/"))
    assert re.search(r'data-testid="net-payable"><strong>¥800.00</strong>', detail)
    boss.post(f"/merchant/statements/{statement.pk}/answer/", {"action": "confirm"})
    assert statement_of(mall_a, mine).status == "confirmed"
    pdf = boss.get(f"/merchant/statements/{statement.pk}/export.pdf")
    assert (pdf.status_code, pdf.content[:5]) == (200, b"%PDF-")
    # Another merchant's statement: not found, on the page and the download.
    theirs = statement_of(mall_a, other)
    assert boss.get(f"/merchant/statements/{theirs.pk}/").status_code == 404
    assert boss.get(f"/merchant/statements/{theirs.pk}/export.csv").status_code == 404
    boss.post(f"/merchant/statements/{theirs.pk}/answer/", {"action": "confirm"})
    assert statement_of(mall_a, other).status == "draft"

    owner.post(
        f"/console/settlement/{statement.pk}/action/", {"action": "payout", "reference": "CMB-1"}
    )
    paid = statement_of(mall_a, mine)
    assert (paid.status, paid.payout_reference) == ("paid", "CMB-1")


def test_a_cashier_sees_but_cannot_answer(mall_a, shops):
    mine, _ = shops
    owner = Browser(host_of("mall-a"))
    owner.sign_in("console", "owner")
    owner.post("/console/settlement/close/")
    statement = statement_of(mall_a, mine)
    owner.post(f"/console/settlement/{statement.pk}/action/", {"action": "issue"})
    till = Browser(host_of("mall-a"))
    till.sign_in("merchant", "sb-till")
    assert "确认无误" not in text(till.get(f"/merchant/statements/{statement.pk}/"))
    assert (
        till.post(f"/merchant/statements/{statement.pk}/answer/", {"action": "confirm"}).status_code
        == 403
    )
    assert statement_of(mall_a, mine).status == "issued"


def test_marketing_cannot_open_the_settlement_desk(mall_a, shops):
    with tenant_context(mall_a):
        invite_staff(username="mkt", role=StaffRole.MARKETING, password=PASSWORD)
    connection.set_schema_to_public()
    browser = Browser(host_of("mall-a"))
    browser.sign_in("console", "mkt")
    assert browser.get("/console/settlement/").status_code == 403
