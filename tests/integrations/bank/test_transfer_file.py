from decimal import Decimal

import pytest

from integrations.bank.transfer_file import BankTransfer, render


def _transfer(amount: str, name: str = "星巴克(中国)有限公司") -> BankTransfer:
    return BankTransfer(
        account_no="6222020200112233",
        account_name=name,
        bank_name="中国工商银行上海分行",
        cnaps_code="102290000011",
        amount=Decimal(amount),
        purpose="2026年11月结算",
    )


def test_rows_total_and_gbk_crlf():
    data = render([_transfer("1234.50"), _transfer("0.01", name="=HYPERLINK()")])
    text = data.decode("gbk")
    assert text.split("\r\n") == [
        "序号,收款账号,收款户名,收款银行,联行号,金额,用途",
        "1,6222020200112233,星巴克(中国)有限公司,中国工商银行上海分行,102290000011,1234.50,2026年11月结算",
        "2,6222020200112233,'=HYPERLINK(),中国工商银行上海分行,102290000011,0.01,2026年11月结算",
        "合计,2笔,,,,1234.51,",
        "",
    ]


@pytest.mark.parametrize("amount", ["0.00", "-1.00", "1.005"])
def test_refuses_non_positive_or_sub_cent_amounts(amount):
    with pytest.raises(ValueError, match="transfer 1"):
        render([_transfer(amount)])
