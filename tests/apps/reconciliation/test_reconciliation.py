"""Daily bills of both channels matched against recorded payments and refunds: each mismatch
kind with exact counts and amounts, totals, the alert event, idempotent re-import, and the
console API with its bad-input codes."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.merchants.services import create_merchant
from apps.reconciliation.errors import BillInvalidError
from apps.reconciliation.models import ReconciliationBreak, ReconciliationRun
from apps.reconciliation.services import import_bill
from apps.sales.services import PaymentLine, record_sale, refund_sale
from atrium.models import OutboxEvent
from integrations.alipay import bills as alipay
from integrations.bills import PAYMENT, REFUND, BillLine
from integrations.wechatpay import bills as wechat
from tests.conftest import host_of

RENDER = {"alipay": alipay.render_trade_bill, "wechat": wechat.render_trade_bill}


def _day_of_sales(channel):
    """Three sales paid through the channel today, and three refunds."""
    shop = create_merchant(name="Recon shop")
    now = timezone.now() - dt.timedelta(minutes=2)
    for external_id, amount, trade_no in (
        ("S-1", "100.00", "T1"), ("S-2", "50.00", "T2"), ("S-3", "30.00", "T3"),
    ):  # fmt: skip
        record_sale(
            merchant=shop, external_id=external_id, occurred_at=now, total=amount,
            payments=[PaymentLine(channel, amount, trade_no)],
        )  # fmt: skip
    record_sale(
        merchant=shop, external_id="S-4", occurred_at=now, total="9.00",
        payments=[PaymentLine("cash", "9.00")],
    )  # fmt: skip
    refund_sale(merchant=shop, external_id="S-1", refund_id="R1", amount="10.00")
    refund_sale(merchant=shop, external_id="S-2", refund_id="R2", amount="5.00")
    refund_sale(merchant=shop, external_id="S-3", refund_id="R3", amount="4.00")
    return shop


def _bill(channel, *, fixed=False):
    at = timezone.localtime().replace(tzinfo=None, microsecond=0)
    lines = [
        BillLine(PAYMENT, "T1", "S-1", "", Decimal("100.00"), at),  # matched
        BillLine(PAYMENT, "T2", "S-2", "", Decimal("50.00" if fixed else "55.00"), at),
        BillLine(REFUND, "T1", "S-1", "R1", Decimal("10.00"), at),  # matched
        BillLine(REFUND, "T2", "S-2", "R2", Decimal("5.00" if fixed else "6.00"), at),
    ]
    if fixed:
        lines += [
            BillLine(PAYMENT, "T3", "S-3", "", Decimal("30.00"), at),
            BillLine(REFUND, "T3", "S-3", "R3", Decimal("4.00"), at),
        ]
    else:
        lines += [
            BillLine(PAYMENT, "T9", "X-9", "", Decimal("20.00"), at),  # not ours
            BillLine(REFUND, "T1", "S-1", "R9", Decimal("3.00"), at),  # not ours
        ]
    return RENDER[channel](lines)


@pytest.mark.parametrize("channel", ["alipay", "wechat"])
def test_each_break_kind_is_found_with_exact_counts_and_amounts(mall, channel):
    shop = _day_of_sales(channel)
    result = import_bill(channel=channel, bill_date=timezone.localdate(), content=_bill(channel))
    run = result.run
    assert result.created
    assert (run.status, run.matched, run.missing_ours, run.missing_theirs, run.amount_mismatch) == (
        "breaks", 2, 2, 2, 2,
    )  # fmt: skip
    assert (run.bill_payment_total, run.bill_refund_total) == (Decimal("175.00"), Decimal("19.00"))
    assert (run.our_payment_total, run.our_refund_total) == (Decimal("180.00"), Decimal("19.00"))
    breaks = sorted(
        (b.kind, b.line_kind, b.trade_no, b.refund_no, b.bill_amount, b.our_amount)
        for b in ReconciliationBreak.objects.filter(run=run)
    )
    assert breaks == [
        ("amount_mismatch", "payment", "T2", "", Decimal("55.00"), Decimal("50.00")),
        ("amount_mismatch", "refund", "T2", "R2", Decimal("6.00"), Decimal("5.00")),
        ("missing_ours", "payment", "T9", "", Decimal("20.00"), None),
        ("missing_ours", "refund", "T1", "R9", Decimal("3.00"), None),
        ("missing_theirs", "payment", "T3", "", None, Decimal("30.00")),
        ("missing_theirs", "refund", "T3", "R3", None, Decimal("4.00")),
    ]
    assert (
        ReconciliationBreak.objects.filter(run=run, line_kind="payment", merchant=shop).count() == 2
    )
    alerts = OutboxEvent.objects.filter(topic="reconciliation.broken")
    assert [(a.payload["channel"], a.payload["missing_ours"]) for a in alerts] == [(channel, 2)]


def test_reimporting_the_same_bill_changes_nothing_and_a_corrected_bill_balances(mall):
    _day_of_sales("alipay")
    today = timezone.localdate()
    first = import_bill(channel="alipay", bill_date=today, content=_bill("alipay"))
    again = import_bill(channel="alipay", bill_date=today, content=_bill("alipay"))
    assert (again.created, again.run.pk, again.run.updated_at) == (
        False,
        first.run.pk,
        first.run.updated_at,
    )
    assert (
        ReconciliationBreak.objects.count(),
        OutboxEvent.objects.filter(topic="reconciliation.broken").count(),
    ) == (6, 1)
    fixed = import_bill(channel="alipay", bill_date=today, content=_bill("alipay", fixed=True))
    assert (fixed.created, fixed.run.pk, fixed.run.status, fixed.run.matched) == (
        True, first.run.pk, "balanced", 6,
    )  # fmt: skip
    assert (ReconciliationRun.objects.count(), ReconciliationBreak.objects.count()) == (1, 0)
    # The other channel's day is its own run, with our alipay payments not in it.
    empty = wechat.render_trade_bill([])
    other = import_bill(channel="wechat", bill_date=today, content=empty)
    assert (other.run.status, other.run.matched, other.run.missing_theirs) == ("balanced", 0, 0)


def test_a_bad_bill_is_refused_and_nothing_is_written(mall):
    with pytest.raises(BillInvalidError) as error:
        import_bill(channel="alipay", bill_date=timezone.localdate(), content=b"not,a,bill\n")
    assert error.value.code == "reconciliation.bill_invalid"
    assert ReconciliationRun.objects.count() == 0


def _upload(token, **fields):
    client = Client(HTTP_HOST=host_of("mall-a"))
    response = client.post(
        "/api/console/v1/reconciliation/bills", fields, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    connection.set_schema_to_public()
    return response


def _file(content, name="bill.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="text/csv")


def test_the_console_api_uploads_lists_runs_and_breaks(mall_a, console_a):
    with tenant_context(mall_a):
        _day_of_sales("wechat")
        content = _bill("wechat")
    connection.set_schema_to_public()
    today = timezone.localdate().isoformat()
    response = _upload(console_a.token, channel="wechat", bill_date=today, file=_file(content))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["created"], body["run"]["status"], body["run"]["bill_payment_total"]) == (
        True, "breaks", "175.00",
    )  # fmt: skip
    again = _upload(console_a.token, channel="wechat", bill_date=today, file=_file(content))
    assert (again.status_code, again.json()["created"]) == (200, False)
    listed = console_a.get("/api/console/v1/reconciliation/runs?channel=wechat")
    assert listed.status_code == 200, listed.content
    runs = listed.json()["results"]
    assert [(r["channel"], r["matched"], r["amount_mismatch"]) for r in runs] == [("wechat", 2, 2)]
    breaks = console_a.get(f"/api/console/v1/reconciliation/runs/{runs[0]['id']}/breaks").json()
    assert sorted(b["kind"] for b in breaks) == [
        "amount_mismatch", "amount_mismatch", "missing_ours", "missing_ours", "missing_theirs",
        "missing_theirs",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"channel": "paypal", "bill_date": "2026-11-22"}, 422, "request.invalid"),
        ({"channel": "alipay", "bill_date": "yesterday"}, 422, "request.invalid"),
        ({"channel": "alipay", "bill_date": "2026-11-22"}, 400, "reconciliation.bill_invalid"),
    ],
)
def test_bad_uploads_are_refused(mall_a, console_a, fields, status, code):
    response = _upload(console_a.token, file=_file(b"garbage\n"), **fields)
    assert (response.status_code, response.json()["code"]) == (status, code)
    with tenant_context(mall_a):
        assert ReconciliationRun.objects.count() == 0
    connection.set_schema_to_public()


def test_an_unknown_run_is_not_found(console_a):
    import uuid

    response = console_a.get(f"/api/console/v1/reconciliation/runs/{uuid.uuid4()}/breaks")
    assert (response.status_code, response.json()["code"]) == (404, "reconciliation.run_not_found")
