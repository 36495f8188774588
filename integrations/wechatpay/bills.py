"""WeChat Pay's daily trade bill (v3 `GET /v3/bill/tradebill`, `bill_type=ALL`): a UTF-8 CSV,
one header row, then every value prefixed with a backtick (so spreadsheets keep ids as text),
then a two-row summary:

    交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,
    付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,
    退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注
    `2026-11-22 10:00:00,`wx...,`1900000109,`,`,`4200001234...,`T-1,`o...,`JSAPI,`SUCCESS,...
    总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
    `2,`100.00,`30.00,`0.00,`0.60,`100.00,`30.00

A `SUCCESS` line is a payment of 应结订单金额; a `REFUND` line a refund of 退款金额 (its
商户退款单号 is our refund id). `REVOKED` lines (cancelled before payment) move no money.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from integrations.bills import PAYMENT, REFUND, Bill, BillFormatError, BillLine, moment, money

COLUMNS = (
    "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号",
    "用户标识", "交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额",
    "微信退款单号", "商户退款单号", "退款金额", "充值券退款金额", "退款类型", "退款状态",
    "商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额", "费率备注",
)  # fmt: skip
SUMMARY = ("总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额",
           "订单总金额", "申请退款总金额")  # fmt: skip


def _value(cell: str) -> str:
    cell = cell.strip()
    return cell[1:] if cell.startswith("`") else cell


def parse_trade_bill(content: bytes) -> Bill:
    """Read a trade bill of type ALL. Raises BillFormatError."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BillFormatError("not a UTF-8 text file") from exc
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows or [c.strip() for c in rows[0][: len(COLUMNS)]] != list(COLUMNS):
        raise BillFormatError("not a WeChat Pay trade bill: unexpected header")
    try:
        split = next(i for i, row in enumerate(rows) if row and row[0].strip() == SUMMARY[0])
    except StopIteration as exc:
        raise BillFormatError("the summary (总交易单数) is missing") from exc
    if len(rows) != split + 2:
        raise BillFormatError("the summary must be the last two rows")
    summary = [_value(cell) for cell in rows[split + 1]]
    lines = []
    for number, row in enumerate(rows[1:split], start=2):
        if len(row) < len(COLUMNS):
            raise BillFormatError(f"line {number}: {len(row)} columns, {len(COLUMNS)} expected")
        cells = [_value(cell) for cell in row]
        status = cells[9]
        if status == "REVOKED":
            continue
        if status not in ("SUCCESS", "REFUND"):
            raise BillFormatError(f"line {number}: unknown 交易状态 {status[:12]!r}")
        lines.append(
            BillLine(
                kind=PAYMENT if status == "SUCCESS" else REFUND,
                trade_no=cells[5],
                out_trade_no=cells[6],
                refund_no=cells[15] if status == "REFUND" else "",
                amount=money(cells[12] if status == "SUCCESS" else cells[16], line=number),
                occurred_at=moment(cells[0], line=number),
            )
        )
    payment_total = sum((x.amount for x in lines if x.kind == PAYMENT), Decimal("0.00"))
    refund_total = sum((x.amount for x in lines if x.kind == REFUND), Decimal("0.00"))
    try:
        count, settled, refunded = int(summary[0]), Decimal(summary[1]), Decimal(summary[2])
    except (ValueError, ArithmeticError, IndexError) as exc:
        raise BillFormatError("the summary is not numbers") from exc
    if (count, settled, refunded) != (split - 1, payment_total, refund_total):
        raise BillFormatError("the summary disagrees with the lines")
    return Bill(lines=tuple(lines), payment_total=payment_total, refund_total=refund_total)


def render_trade_bill(lines: list[BillLine], *, mch_id: str = "1900000109") -> bytes:
    """A bill in WeChat Pay's layout (what the local fake's download serves)."""
    out = io.StringIO()
    out.write(",".join(COLUMNS) + "\n")
    settled = refunded = fee = Decimal("0.00")
    for line in lines:
        when = line.occurred_at.strftime("%Y-%m-%d %H:%M:%S")
        paid = line.kind == PAYMENT
        amount = str(line.amount)
        line_fee = (
            (line.amount * Decimal("0.006")).quantize(Decimal("0.01")) if paid else Decimal("0.00")
        )
        settled += line.amount if paid else 0
        refunded += 0 if paid else line.amount
        fee += line_fee
        cells = [
            when, "wx2421b1c4370ec43b", mch_id, "", "", line.trade_no, line.out_trade_no,
            "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "JSAPI", "SUCCESS" if paid else "REFUND", "CMB_DEBIT",
            "CNY", amount if paid else "0.00", "0.00", "" if paid else f"50{line.refund_no}",
            line.refund_no, "0.00" if paid else amount, "0.00", "" if paid else "ORIGINAL",
            "" if paid else "SUCCESS", "商品", "", str(line_fee), "0.60%", amount if paid else "0.00",
            "0.00" if paid else amount, "",
        ]  # fmt: skip
        out.write(",".join(f"`{cell}" for cell in cells) + "\n")
    out.write(",".join(SUMMARY) + "\n")
    out.write(
        ",".join(f"`{v}" for v in (len(lines), settled, refunded, "0.00", fee, settled, refunded))
        + "\n"
    )
    return out.getvalue().encode("utf-8")
