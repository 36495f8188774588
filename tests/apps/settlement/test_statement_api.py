"""Statement endpoints: the finance desk in the console and the merchant's statements."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context
from openpyxl import load_workbook

from apps.accounts.choices import StaffRole
from apps.accounts.services import invite_staff
from apps.settlement.models import Statement
from atrium.crypto import encrypt
from tests.apps.settlement.statement_helpers import at, concession_sale, contract
from tests.conftest import PASSWORD, Api, host_of, login


@pytest.fixture
def shop(mall_a, make_merchant):
    setup = make_merchant(mall_a, name="星巴克", cashier="sb-cashier")
    with tenant_context(mall_a):
        invite_staff(username="sb-manager", role=StaffRole.MERCHANT_MANAGER,
                     merchant=setup.merchant, password=PASSWORD)  # fmt: skip
        contract(setup.merchant, payout_account_name="星巴克公司", payout_bank_name="招商银行",
                 payout_account_encrypted=encrypt("6225880000000002"),
                 effective_from=dt.date(2026, 10, 1))  # fmt: skip
        concession_sale(setup.merchant, "1000.00", "0.20", at(dt.date(2026, 10, 9)))
    connection.set_schema_to_public()
    return setup


def portal(username):
    api = Api(host_of("mall-a"))
    return api.as_token(login(api, "merchant", username)["access_token"])


def test_finance_closes_issues_and_pays_the_merchant_confirms(console_a, shop):
    closed = console_a.post("/api/console/v1/settlement/close", {"today": "2026-11-01"})
    assert closed.status_code == 200, closed.content
    [statement] = closed.json()["closed"]
    assert (statement["merchant_name"], statement["status"], statement["net_payable"]) == (
        "星巴克", "draft", "800.00",
    )  # fmt: skip
    # A draft is not the merchant's yet.
    assert portal("sb-manager").get("/api/merchant/v1/statements").json()["count"] == 0
    issued = console_a.post(
        "/api/console/v1/settlement/statements/issue", {"statement_ids": [statement["id"]]}
    )
    assert [(s["status"], s["payout_route"]) for s in issued.json()] == [("issued", "bank")]

    cashier = portal("sb-cashier")
    listed = cashier.get("/api/merchant/v1/statements").json()
    assert [s["number"] for s in listed["items"]] == [statement["number"]]
    refused = cashier.post(f"/api/merchant/v1/statements/{statement['id']}/confirm")
    assert (refused.status_code, refused.json()["code"]) == (403, "auth.forbidden")
    manager = portal("sb-manager")
    detail = manager.get(f"/api/merchant/v1/statements/{statement['id']}").json()
    assert [(x["section"], x["party"], x["kind"], x["amount"]) for x in detail["lines"]] == [
        ("sale", "mall", "commission", "200.00"),
        ("sale", "merchant", "merchant_share", "800.00"),
    ]
    confirmed = manager.post(f"/api/merchant/v1/statements/{statement['id']}/confirm")
    assert confirmed.json()["status"] == "confirmed"
    again = manager.post(f"/api/merchant/v1/statements/{statement['id']}/confirm")
    assert (again.status_code, again.json()["code"]) == (409, "settlement.statement_state")

    bank = console_a.post(
        "/api/console/v1/settlement/bank-file", {"statement_ids": [statement["id"]]}
    )
    assert bank.status_code == 200
    assert bank.content.decode("gbk").split("\r\n")[1] == (
        f"1,6225880000000002,星巴克公司,招商银行,,800.00,结算单{statement['number']}"
    )
    alipay = console_a.post(f"/api/console/v1/settlement/statements/{statement['id']}/pay-alipay")
    assert (alipay.status_code, alipay.json()["code"]) == (409, "settlement.payout_route")
    paid = console_a.post(
        f"/api/console/v1/settlement/statements/{statement['id']}/payout", {"reference": "CMB-778"}
    )
    assert (paid.json()["status"], paid.json()["payout_reference"]) == ("paid", "CMB-778")
    summary = console_a.get("/api/console/v1/settlement/summary").json()
    assert summary == [{"status": "paid", "count": 1, "net": "800.00"}]


def test_dispute_and_resolution(console_a, shop):
    [statement] = console_a.post(
        "/api/console/v1/settlement/close", {"today": "2026-11-01"}
    ).json()["closed"]
    console_a.post(
        "/api/console/v1/settlement/statements/issue", {"statement_ids": [statement["id"]]}
    )
    manager = portal("sb-manager")
    empty = manager.post(f"/api/merchant/v1/statements/{statement['id']}/dispute", {"reason": ""})
    assert empty.status_code in (400, 422)
    disputed = manager.post(
        f"/api/merchant/v1/statements/{statement['id']}/dispute", {"reason": "扣点应为18%"}
    )
    assert (disputed.json()["status"], disputed.json()["dispute_reason"]) == (
        "disputed",
        "扣点应为18%",
    )
    listed = console_a.get("/api/console/v1/settlement/statements?status=disputed").json()
    assert [s["id"] for s in listed["items"]] == [statement["id"]]
    resolved = console_a.post(
        f"/api/console/v1/settlement/statements/{statement['id']}/resolve",
        {"resolution": "合同为20%，维持"},
    )
    assert (resolved.json()["status"], resolved.json()["resolution"]) == (
        "confirmed",
        "合同为20%，维持",
    )


def test_exports_download_in_each_format(console_a, shop):
    [statement] = console_a.post(
        "/api/console/v1/settlement/close", {"today": "2026-11-01"}
    ).json()["closed"]
    base = f"/api/console/v1/settlement/statements/{statement['id']}"
    csv = console_a.get(f"{base}/export.csv")
    assert csv["Content-Disposition"] == f'attachment; filename="{statement["number"]}.csv"'
    assert "应付商户净额,,,800.00" in csv.content.decode("utf-8-sig")
    xlsx = console_a.get(f"{base}/export.xlsx")
    rows = list(load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    assert rows[-1] == ("应付商户净额", None, None, 800)
    pdf = console_a.get(f"{base}/export.pdf")
    assert (pdf["Content-Type"], pdf.content[:5]) == ("application/pdf", b"%PDF-")
    console_a.post(
        "/api/console/v1/settlement/statements/issue", {"statement_ids": [statement["id"]]}
    )
    mine = portal("sb-cashier").get(f"/api/merchant/v1/statements/{statement['id']}/export.pdf")
    assert (mine.status_code, mine.content[:5]) == (200, b"%PDF-")


def test_closing_never_reaches_past_the_malls_today(console_a, shop, mall_a):
    response = console_a.post("/api/console/v1/settlement/close", {"today": "2999-01-01"})
    assert response.status_code == 200
    with tenant_context(mall_a):
        # Monthly: the last period closed is the month before the mall's current one.
        last = Statement.objects.order_by("-period_end").first()
        assert last.period_end == timezone.localdate().replace(day=1) - dt.timedelta(days=1)
        assert Statement.objects.get(period_start=dt.date(2026, 10, 1)).net_payable == Decimal(
            "800.00"
        )
    connection.set_schema_to_public()


def test_a_cashier_of_the_mall_cannot_use_the_finance_desk(mall_a, shop):
    response = portal("sb-cashier").get("/api/console/v1/settlement/statements")
    assert response.status_code == 401
