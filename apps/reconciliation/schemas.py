"""Wire shapes of the reconciliation API."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from ninja import Schema


class RunOut(Schema):
    id: uuid.UUID
    channel: str
    bill_date: dt.date
    status: str
    matched: int
    missing_ours: int
    missing_theirs: int
    amount_mismatch: int
    bill_payment_total: Decimal
    bill_refund_total: Decimal
    our_payment_total: Decimal
    our_refund_total: Decimal
    updated_at: dt.datetime


class ImportOut(Schema):
    created: bool
    run: RunOut


class BreakOut(Schema):
    id: uuid.UUID
    kind: str
    line_kind: str
    trade_no: str
    refund_no: str
    bill_amount: Decimal | None
    our_amount: Decimal | None
    sale_id: uuid.UUID | None
    merchant_id: uuid.UUID | None
