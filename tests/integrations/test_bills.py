"""The bill parsers against files in the channels' published layouts: Alipay's 业务明细 (GBK,
`#` comments, tab-padded ids, totals footer) and WeChat Pay's trade bill (backtick values,
two-row summary); footers that disagree with the lines are refused."""

import datetime as dt
from decimal import Decimal

import pytest

from integrations.alipay import bills as alipay
from integrations.bills import PAYMENT, REFUND, BillFormatError, BillLine
from integrations.wechatpay import bills as wechat

AT = dt.datetime(2026, 11, 22, 10, 30, 0)  # noqa: DTZ001 - bills print local time
LINES = [
    BillLine(PAYMENT, "2026112222001401", "T-1", "", Decimal("100.00"), AT),
    BillLine(PAYMENT, "2026112222001402", "T-2", "", Decimal("0.01"), AT),
    BillLine(REFUND, "2026112222001401", "T-1", "R-1", Decimal("30.50"), AT),
]

ALIPAY_SAMPLE = (
    "#支付宝业务明细查询\n#账号：[2088000000000001]\n"
    "#起始日期：[2026年11月22日 00:00:00]   终止日期：[2026年11月23日 00:00:00]\n"
    "#-----------------------------------------业务明细列表----------------------------------------\n"
    + ",".join(alipay.COLUMNS) + "\n"
    "2026112222001401\t,T-1\t,交易,咖啡,2026-11-22 10:29:58,2026-11-22 10:30:00,,,,,b***@x.com,"
    "100.00,100.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,0.00,0.00,\n"
    "2026112222001401\t,T-1\t,退款,咖啡,2026-11-22 11:00:00,2026-11-22 11:00:01,,,,,b***@x.com,"
    "100.00,-30.50,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,R-1\t,0.00,0.00,\n"
    "#-----------------------------------------业务明细列表结束------------------------------------\n"
    "#交易合计：1笔，商家实收共：100.00元，商家优惠共：0.00元\n"
    "#退款合计：1笔，商家实收退款共：-30.50元\n#导出时间：[2026年11月23日 10:12:01]\n"
)  # fmt: skip


def test_alipay_bill_in_gbk_with_tab_padded_ids():
    bill = alipay.parse_trade_bill(ALIPAY_SAMPLE.encode("gbk"))
    assert [(x.kind, x.trade_no, x.out_trade_no, x.refund_no, x.amount) for x in bill.lines] == [
        ("payment", "2026112222001401", "T-1", "", Decimal("100.00")),
        ("refund", "2026112222001401", "T-1", "R-1", Decimal("30.50")),
    ]
    assert (bill.payment_total, bill.refund_total) == (Decimal("100.00"), Decimal("30.50"))
    assert bill.lines[0].occurred_at == AT


def test_alipay_render_and_parse_round_trip():
    bill = alipay.parse_trade_bill(alipay.render_trade_bill(LINES))
    assert list(bill.lines) == LINES
    assert (bill.payment_total, bill.refund_total) == (Decimal("100.01"), Decimal("30.50"))


def test_wechat_trade_bill_with_backticks_and_summary():
    content = wechat.render_trade_bill(LINES)
    text = content.decode()
    assert text.splitlines()[1].startswith("`2026-11-22 10:30:00,`wx2421b1c4370ec43b,`1900000109")
    assert text.splitlines()[-2].startswith("总交易单数,应结订单总金额,退款总金额")
    assert text.splitlines()[-1] == "`3,`100.01,`30.50,`0.00,`0.60,`100.01,`30.50"
    bill = wechat.parse_trade_bill(content)
    assert list(bill.lines) == LINES


def test_wechat_revoked_lines_move_no_money():
    content = wechat.render_trade_bill(LINES[:1]).decode().splitlines()
    revoked = content[1].replace("`SUCCESS", "`REVOKED").replace("`100.00", "`0.00")
    text = "\n".join(
        [content[0], content[1], revoked, content[2], "`2,`100.00,`0.00,`0.00,`0.60,`100.00,`0.00"]
    )
    assert len(wechat.parse_trade_bill(text.encode()).lines) == 1


@pytest.mark.parametrize(
    ("parse", "content", "message"),
    [
        (alipay.parse_trade_bill, b"hello,world\n", "no 支付宝交易号 header"),
        (alipay.parse_trade_bill, ALIPAY_SAMPLE.replace("退款合计：1笔", "退款合计：2笔").encode("gbk"), "totals count"),
        (alipay.parse_trade_bill, ALIPAY_SAMPLE.replace("-30.50元", "-30.00元").encode("gbk"), "refund total"),
        (alipay.parse_trade_bill, ALIPAY_SAMPLE.replace("100.00,100.00", "1x0,100.00").encode("gbk"), "not an amount"),
        (wechat.parse_trade_bill, b"\xff\xfe", "not a UTF-8"),
        (wechat.parse_trade_bill, "交易时间,x\n".encode(), "unexpected header"),
        (wechat.parse_trade_bill, wechat.render_trade_bill(LINES).replace(b"`3,`100.01", b"`3,`100.02"), "summary disagrees"),
        (wechat.parse_trade_bill, b"\n".join(wechat.render_trade_bill(LINES).splitlines()[:-2]), "summary"),
    ],
)  # fmt: skip
def test_malformed_bills_are_refused(parse, content, message):
    with pytest.raises(BillFormatError, match=message):
        parse(content)
