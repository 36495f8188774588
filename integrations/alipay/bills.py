"""Alipay's daily business bill (业务明细, from `alipay.data.dataservice.bill.downloadurl.query`
with `bill_type=trade`): a GBK CSV whose comment lines start with `#`:

    #支付宝业务明细查询
    #账号：[2088...]
    #起始日期：[2026年11月22日 00:00:00]   终止日期：[2026年11月23日 00:00:00]
    #-----------------------------------------业务明细列表----------------------------------------
    支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,
    对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,
    商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,
    退款批次号/请求号,服务费（元）,分润（元）,备注
    2026112222001456780501234567\t,T-1\t,交易,...
    #-----------------------------------------业务明细列表结束------------------------------------
    #交易合计：2笔，商家实收共：300.00元，商家优惠共：0.00元
    #退款合计：1笔，商家实收退款共：-50.00元
    #导出时间：[2026年11月23日 10:12:01]

Values may carry trailing tabs (Alipay pads ids so spreadsheets keep them as text). A payment's
amount is its 订单金额; a refund line (业务类型 退款) has the refunded amount as a negative 商家实收.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

from integrations.bills import PAYMENT, REFUND, Bill, BillFormatError, BillLine, moment, money

HEADER_FIRST = "支付宝交易号"
COLUMNS = (
    "支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间", "门店编号",
    "门店名称", "操作员", "终端号", "对方账户", "订单金额（元）", "商家实收（元）",
    "支付宝红包（元）", "集分宝（元）", "支付宝优惠（元）", "商家优惠（元）", "券核销金额（元）",
    "券名称", "商家红包消费金额（元）", "卡消费金额（元）", "退款批次号/请求号", "服务费（元）",
    "分润（元）", "备注",
)  # fmt: skip
_TRADES = re.compile(r"#交易合计：(\d+)笔，商家实收共：(-?[\d.]+)元")
_REFUNDS = re.compile(r"#退款合计：(\d+)笔，商家实收退款共：(-?[\d.]+)元")


def parse_trade_bill(content: bytes) -> Bill:
    """Read a 业务明细 bill (GBK; UTF-8 is accepted too). Raises BillFormatError."""
    try:
        text = content.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise BillFormatError("not a GBK text file") from exc
    text = text.lstrip("\ufeff")
    rows: list[tuple[int, list[str]]] = []
    footer: dict[str, tuple[int, Decimal] | None] = {"trades": None, "refunds": None}
    header: list[str] | None = None
    for number, raw in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in raw]
        if not cells or not any(cells):
            continue
        if cells[0].startswith("#"):
            joined = ",".join(raw)
            if match := _TRADES.search(joined):
                footer["trades"] = (int(match[1]), Decimal(match[2]))
            if match := _REFUNDS.search(joined):
                footer["refunds"] = (int(match[1]), Decimal(match[2]))
            continue
        if header is None:
            if cells[0] != HEADER_FIRST:
                raise BillFormatError("not an Alipay business bill: no 支付宝交易号 header")
            header = cells
            missing = [name for name in COLUMNS[:13] if name not in header]
            if missing:
                raise BillFormatError(f"missing columns: {', '.join(missing)}")
            continue
        rows.append((number, cells))
    if header is None or footer["trades"] is None or footer["refunds"] is None:
        raise BillFormatError("not an Alipay business bill: header or totals missing")
    at = {name: index for index, name in enumerate(header)}
    lines = []
    for number, cells in rows:
        if len(cells) < len(header):
            raise BillFormatError(f"line {number}: {len(cells)} columns, {len(header)} expected")
        kind = cells[at["业务类型"]]
        if kind not in ("交易", "退款"):
            raise BillFormatError(f"line {number}: unknown 业务类型 {kind[:10]!r}")
        received = money(cells[at["商家实收（元）"]], line=number)
        lines.append(
            BillLine(
                kind=PAYMENT if kind == "交易" else REFUND,
                trade_no=cells[at["支付宝交易号"]],
                out_trade_no=cells[at["商户订单号"]],
                refund_no=cells[at["退款批次号/请求号"]] if kind == "退款" else "",
                amount=money(cells[at["订单金额（元）"]], line=number)
                if kind == "交易"
                else -received,
                occurred_at=moment(cells[at["完成时间"]], line=number),
            )
        )
    payments = [line for line in lines if line.kind == PAYMENT]
    refunds = [line for line in lines if line.kind == REFUND]
    trades, refunded = footer["trades"] or (0, Decimal(0)), footer["refunds"] or (0, Decimal(0))
    if (len(payments), len(refunds)) != (trades[0], refunded[0]):
        raise BillFormatError(
            f"the totals count {trades[0]} trades and {refunded[0]} refunds, "
            f"the lines {len(payments)} and {len(refunds)}"
        )
    refund_total = sum((line.amount for line in refunds), Decimal("0.00"))
    if refund_total != -refunded[1]:
        raise BillFormatError("the refund total disagrees with the lines")
    return Bill(
        lines=tuple(lines),
        payment_total=sum((line.amount for line in payments), Decimal("0.00")),
        refund_total=refund_total,
    )


def render_trade_bill(
    lines: list[BillLine], *, account: str = "2088000000000001", day: str = "2026年11月22日"
) -> bytes:
    """A bill in Alipay's layout, GBK (what the local fake gateway's download serves)."""
    out = io.StringIO()
    out.write("#支付宝业务明细查询\n")
    out.write(f"#账号：[{account}]\n")
    out.write(f"#起始日期：[{day} 00:00:00]   终止日期：[{day} 23:59:59]\n")
    out.write(
        "#-----------------------------------------业务明细列表----------------------------------------\n"
    )
    out.write(",".join(COLUMNS) + "\n")
    received_total = Decimal("0.00")
    refunded_total = Decimal("0.00")
    for line in lines:
        when = line.occurred_at.strftime("%Y-%m-%d %H:%M:%S")
        if line.kind == PAYMENT:
            order, received, kind, batch = line.amount, line.amount, "交易", ""
            received_total += line.amount
        else:
            order, received, kind, batch = line.amount, -line.amount, "退款", line.refund_no
            refunded_total -= line.amount
        cells = [
            f"{line.trade_no}\t", f"{line.out_trade_no}\t", kind, "商品", when, when, "", "",
            "", "", "buyer***@example.com", f"{order}", f"{received}", "0.00", "0.00", "0.00",
            "0.00", "0.00", "", "0.00", "0.00", f"{batch}\t" if batch else "", "0.00", "0.00", "",
        ]  # fmt: skip
        out.write(",".join(cells) + "\n")
    payments = sum(1 for line in lines if line.kind == PAYMENT)
    out.write(
        "#-----------------------------------------业务明细列表结束------------------------------------\n"
    )
    out.write(f"#交易合计：{payments}笔，商家实收共：{received_total}元，商家优惠共：0.00元\n")
    out.write(f"#退款合计：{len(lines) - payments}笔，商家实收退款共：{refunded_total}元\n")
    out.write(f"#导出时间：[{day} 10:00:00]\n")
    return out.getvalue().encode("gbk")
