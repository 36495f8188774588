"""What a payment channel's daily bill says, line by line, in plain data (shared by the
Alipay and WeChat Pay parsers; integrations return data, never touch the product's models)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

PAYMENT = "payment"
REFUND = "refund"


class BillFormatError(ValueError):
    """The file is not a bill of the expected layout (or its footer disagrees with its lines)."""


@dataclass(frozen=True)
class BillLine:
    """One line of a bill: a payment or a refund, by the channel's trade number."""

    kind: str  # PAYMENT | REFUND
    trade_no: str  # the channel's trade number (支付宝交易号 / 微信订单号)
    out_trade_no: str  # the merchant's order number
    refund_no: str  # the merchant's refund request number (refunds only)
    amount: Decimal  # positive yuan
    occurred_at: dt.datetime  # naive, local time as printed


@dataclass(frozen=True)
class Bill:
    lines: tuple[BillLine, ...]
    payment_total: Decimal
    refund_total: Decimal


def money(text: str, *, line: int) -> Decimal:
    try:
        value = Decimal(text.strip() or "0")
    except InvalidOperation as exc:
        raise BillFormatError(f"line {line}: not an amount: {text[:20]!r}") from exc
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise BillFormatError(f"line {line}: not an amount in yuan: {text[:20]!r}")
    return value.quantize(Decimal("0.01"))


def moment(text: str, *, line: int) -> dt.datetime:
    try:
        return dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 - local
    except ValueError as exc:
        raise BillFormatError(f"line {line}: not a time: {text[:20]!r}") from exc
