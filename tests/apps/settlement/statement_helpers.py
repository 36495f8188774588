"""Test data for statements: sales and the money lines the split and clearing apps write,
written the way they write them (under `lines_lock`, `settle_on` from the cursor)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction

from apps.clearing.models import ClearingLine
from apps.merchants.models import Contract
from apps.sales.models import Refund, Sale, SalePayment
from apps.settlement import locks
from apps.settlement.models import SplitLine
from apps.settlement.selectors import settle_on

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=SHANGHAI)


def contract(merchant, **fields) -> Contract:
    values = {
        "kind": "concession",
        "commission_rate": Decimal("0.2000"),
        "cycle": "monthly",
        "payout_method": "bank",
        "effective_from": dt.date(2026, 1, 1),
    }
    values.update(fields)
    return Contract.objects.create(merchant=merchant, **values)


def sale(merchant, total: str, moment: dt.datetime, *, alipay_trade: str = "") -> Sale:
    record = Sale.objects.create(
        merchant=merchant, external_id=uuid.uuid4().hex[:12], channel="pos",
        occurred_at=moment, total=Decimal(total), request_hash="t",
    )  # fmt: skip
    SalePayment.objects.create(
        sale=record, position=1, method="alipay" if alipay_trade else "cash",
        amount=Decimal(total), trade_no=alipay_trade,
    )  # fmt: skip
    return record


def split(
    record: Sale,
    lines: list[tuple[str, str, str]],
    *,
    moment: dt.datetime | None = None,
    refund: Refund | None = None,
) -> list[SplitLine]:
    """Write (party, kind, amount) lines for a sale or refund, as the split service does."""
    moment = moment or record.occurred_at
    with transaction.atomic():
        locks.lines_lock(merchant_ids=[record.merchant_id])
        day = settle_on(merchant_id=record.merchant_id, moment=moment)
        return [
            SplitLine.objects.create(
                sale=record, refund=refund, merchant_id=record.merchant_id, party=party,
                kind=kind, amount=Decimal(amount), settle_on=day, occurred_at=moment,
            )
            for party, kind, amount in lines
        ]  # fmt: skip


def concession_sale(merchant, total: str, rate: str, moment: dt.datetime, **kw) -> Sale:
    """A sale split merchant / commission at `rate` (commission rounded half up)."""
    record = sale(merchant, total, moment, **kw)
    commission = (Decimal(total) * Decimal(rate)).quantize(Decimal("0.01"))
    split(record, [
        ("merchant", "merchant_share", str(Decimal(total) - commission)),
        ("mall", "commission", str(commission)),
    ])  # fmt: skip
    return record


def refund(record: Sale, amount: str, lines: list[tuple[str, str, str]], moment: dt.datetime):
    made = Refund.objects.create(
        sale=record, refund_id=uuid.uuid4().hex[:12], amount=Decimal(amount)
    )
    return split(record, lines, moment=moment, refund=made)


def clearing(merchant, role: str, points: int, amount: str, moment: dt.datetime) -> ClearingLine:
    with transaction.atomic():
        locks.lines_lock(merchant_ids=[merchant.pk])
        day = settle_on(merchant_id=merchant.pk, moment=moment)
        return ClearingLine.objects.create(
            entry_id=uuid.uuid4(), lot_id=uuid.uuid4(), merchant=merchant, role=role,
            points=points, amount=Decimal(amount), settle_on=day, occurred_at=moment,
        )  # fmt: skip
