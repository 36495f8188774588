"""Importing a channel's daily bill and matching it, line by line, against our records.

Matching is by the channel's trade number (`SalePayment.trade_no`): a bill payment line matches
our payment of that channel with the same trade number (its sale on the bill's day, or on
another day when the channel booked it across midnight), a refund line our refund whose sale was
paid by that trade number and whose `refund_id` is the bill's merchant refund number. Equal
amounts match; different amounts are `amount_mismatch`; bill lines we lack are `missing_ours`;
our payments and refunds of the day the bill lacks are `missing_theirs`. Any break publishes
`reconciliation.broken` in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from apps.reconciliation import events
from apps.reconciliation.choices import BillChannel, BreakKind, LineKind, RunStatus
from apps.reconciliation.errors import BillInvalidError
from apps.reconciliation.models import ReconciliationBreak, ReconciliationRun
from apps.sales.selectors import (
    channel_payments,
    channel_refunds,
    payments_by_trade_no,
    refunds_by_trade,
)
from integrations.alipay.bills import parse_trade_bill as parse_alipay
from integrations.bills import PAYMENT, REFUND, Bill, BillFormatError
from integrations.wechatpay.bills import parse_trade_bill as parse_wechat

MAX_BILL_BYTES = 20 * 1024 * 1024
PARSERS: dict[str, Callable[[bytes], Bill]] = {
    BillChannel.ALIPAY: parse_alipay,
    BillChannel.WECHAT: parse_wechat,
}
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class ImportResult:
    run: ReconciliationRun
    created: bool  # False: the very same file was imported before, nothing changed


def _day(bill_date: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = timezone.get_default_timezone()
    since = dt.datetime.combine(bill_date, dt.time(), tzinfo=zone)
    return since, since + dt.timedelta(days=1)


def _parse(channel: str, content: bytes) -> Bill:
    if channel not in PARSERS:
        raise BillInvalidError("unknown channel", allowed=list(PARSERS))
    if not content or len(content) > MAX_BILL_BYTES:
        raise BillInvalidError("the bill is empty or larger than 20 MB", size=len(content))
    try:
        return PARSERS[channel](content)
    except BillFormatError as exc:
        raise BillInvalidError(f"not a readable {channel} bill: {exc}") from exc


@transaction.atomic
def import_bill(
    *, channel: str, bill_date: dt.date, content: bytes, actor: str = ""
) -> ImportResult:
    """Match a channel's bill of one day against our payments and refunds of that day.

    Raises BillInvalidError (unknown channel, unreadable file, footer disagreeing with lines).
    """
    bill = _parse(channel, content)
    digest = hashlib.sha256(content).hexdigest()
    # The day's row is the lock: a concurrent import of the same day waits here.
    ReconciliationRun.objects.get_or_create(
        channel=channel,
        bill_date=bill_date,
        defaults={
            "file_sha256": "", "status": RunStatus.BALANCED, "bill_payment_total": ZERO,
            "bill_refund_total": ZERO, "our_payment_total": ZERO, "our_refund_total": ZERO,
        },
    )  # fmt: skip
    run = ReconciliationRun.objects.select_for_update().get(channel=channel, bill_date=bill_date)
    if run.file_sha256 == digest:
        return ImportResult(run=run, created=False)
    since, until = _day(bill_date)
    day_payments = list(channel_payments(method=channel, since=since, until=until))
    ours = {p.trade_no: p for p in day_payments if p.trade_no}
    unnamed = [p for p in day_payments if not p.trade_no]  # a till that sent no trade no.
    their_payments = [line for line in bill.lines if line.kind == PAYMENT]
    elsewhere = {
        p.trade_no: p
        for p in payments_by_trade_no(
            method=channel, trade_nos=[x.trade_no for x in their_payments if x.trade_no not in ours]
        )
    }
    breaks: list[ReconciliationBreak] = []
    matched = 0
    for line in their_payments:
        payment = ours.pop(line.trade_no, None) or elsewhere.pop(line.trade_no, None)
        if payment is None:
            breaks.append(ReconciliationBreak(
                kind=BreakKind.MISSING_OURS, line_kind=LineKind.PAYMENT, trade_no=line.trade_no,
                bill_amount=line.amount,
            ))  # fmt: skip
        elif payment.amount != line.amount:
            breaks.append(ReconciliationBreak(
                kind=BreakKind.AMOUNT_MISMATCH, line_kind=LineKind.PAYMENT,
                trade_no=line.trade_no, bill_amount=line.amount, our_amount=payment.amount,
                sale_id=payment.sale_id, merchant_id=payment.sale.merchant_id,
            ))  # fmt: skip
        else:
            matched += 1
    breaks.extend(
        ReconciliationBreak(
            kind=BreakKind.MISSING_THEIRS,
            line_kind=LineKind.PAYMENT,
            trade_no=payment.trade_no,
            our_amount=payment.amount,
            sale_id=payment.sale_id,
            merchant_id=payment.sale.merchant_id,
        )
        for payment in [*ours.values(), *unnamed]
    )
    day_refunds = channel_refunds(method=channel, since=since, until=until)
    our_refunds = {(trade_no, refund.refund_id): refund for refund, trade_no in day_refunds}
    their_refunds = [line for line in bill.lines if line.kind == REFUND]
    other_refunds = refunds_by_trade(method=channel, trade_nos=[x.trade_no for x in their_refunds])
    for line in their_refunds:
        key = (line.trade_no, line.refund_no)
        refund = our_refunds.pop(key, None) or other_refunds.get(key)
        if refund is None:
            breaks.append(ReconciliationBreak(
                kind=BreakKind.MISSING_OURS, line_kind=LineKind.REFUND, trade_no=line.trade_no,
                refund_no=line.refund_no, bill_amount=line.amount,
            ))  # fmt: skip
        elif refund.amount != line.amount:
            breaks.append(ReconciliationBreak(
                kind=BreakKind.AMOUNT_MISMATCH, line_kind=LineKind.REFUND,
                trade_no=line.trade_no, refund_no=line.refund_no, bill_amount=line.amount,
                our_amount=refund.amount, sale_id=refund.sale_id,
            ))  # fmt: skip
        else:
            matched += 1
    breaks.extend(
        ReconciliationBreak(
            kind=BreakKind.MISSING_THEIRS,
            line_kind=LineKind.REFUND,
            trade_no=trade_no,
            refund_no=refund_id,
            our_amount=refund.amount,
            sale_id=refund.sale_id,
        )
        for (trade_no, refund_id), refund in our_refunds.items()
    )
    counts = {kind: sum(1 for b in breaks if b.kind == kind) for kind in BreakKind.values}
    run.file_sha256 = digest
    run.status = RunStatus.BREAKS if breaks else RunStatus.BALANCED
    run.matched = matched
    run.missing_ours = counts[BreakKind.MISSING_OURS]
    run.missing_theirs = counts[BreakKind.MISSING_THEIRS]
    run.amount_mismatch = counts[BreakKind.AMOUNT_MISMATCH]
    run.bill_payment_total = bill.payment_total
    run.bill_refund_total = bill.refund_total
    run.our_payment_total = sum((p.amount for p in day_payments), ZERO)
    run.our_refund_total = sum((refund.amount for refund, _ in day_refunds), ZERO)
    run.imported_by = actor
    run.save()
    run.breaks.all().delete()
    for item in breaks:
        item.run = run
    ReconciliationBreak.objects.bulk_create(breaks)
    if breaks:
        events.publish(
            events.ReconciliationBroken(
                run_id=str(run.pk), channel=channel, bill_date=bill_date.isoformat(),
                missing_ours=run.missing_ours, missing_theirs=run.missing_theirs,
                amount_mismatch=run.amount_mismatch,
            )
        )  # fmt: skip
    return ImportResult(run=run, created=True)
