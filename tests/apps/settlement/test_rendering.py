"""Statement exports: CSV, XLSX and PDF carry the same lines and totals, in Chinese."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import translation
from django_tenants.utils import tenant_context
from openpyxl import load_workbook

from apps.merchants.services import create_merchant
from apps.settlement import rendering
from apps.settlement.services import statements as svc
from tests.apps.settlement.statement_helpers import at, clearing, concession_sale, contract


@pytest.fixture
def statement(mall_a):
    with tenant_context(mall_a), translation.override("zh-hans"):
        shop = create_merchant(name="=星巴克")
        contract(shop, kind="guaranteed_minimum", minimum_amount=Decimal("300.00"),
                 effective_from=dt.date(2026, 11, 1))  # fmt: skip
        concession_sale(shop, "1000.00", "0.20", at(dt.date(2026, 11, 3)))
        clearing(shop, "acceptor", 800, "8.00", at(dt.date(2026, 11, 4)))
        [made] = svc.close_due_periods(today=dt.date(2026, 12, 1), actor="t", merchants=[shop])
        yield made


def test_csv(statement):
    with translation.override("zh-hans"):
        text = rendering.render_csv(statement).decode("utf-8")
    assert text.startswith("\ufeff")
    assert text[1:].split("\r\n") == [
        f"结算单号,{statement.number}",
        "商户,'=星巴克",
        "结算期间,2026-11-01 ~ 2026-11-30",
        "状态,草稿",
        "付款方式,出账时确定",
        "",
        "项目,笔数,积分,金额",
        "销售 / 商场 / 扣点佣金,1,0,200.00",
        "销售 / 商户 / 商户所得,1,0,800.00",
        "积分清算 / 受理方,1,800,8.00",
        "保底补差,0,0,-100.00",
        "",
        "销售总额,,,1000.00",
        "退款,,,0.00",
        "扣点佣金,,,200.00",
        "支付手续费,,,0.00",
        "平台服务费,,,0.00",
        "商场补贴及券补贴,,,0.00",
        "商户应得（销售分账）,,,800.00",
        "积分清算,,,8.00",
        "租金,,,0.00",
        "保底补差,,,100.00",
        "应付商户净额,,,708.00",
        "",
    ]


def test_csv_in_english(statement):
    with translation.override("en"):
        text = rendering.render_csv(statement).decode("utf-8")
    assert "Net payable to the merchant,,,708.00" in text


def test_xlsx(statement):
    with translation.override("zh-hans"):
        data = rendering.render_xlsx(statement)
    sheet = load_workbook(io.BytesIO(data)).active
    rows = [tuple(c for c in row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == ("结算单号", statement.number, None, None)
    assert rows[7] == ("销售 / 商场 / 扣点佣金", 1, 0, 200)
    assert rows[-1] == ("应付商户净额", None, None, 708)
    assert sheet["D19"].number_format == "#,##0.00"


def test_pdf_embeds_or_names_a_chinese_font(statement):
    with translation.override("zh-hans"):
        data = rendering.render_pdf(statement)
    assert data.startswith(b"%PDF-")
    assert (
        data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") + data.count(b"/Type /Page>")
        >= 1
    )
    font = rendering.pdf_font()
    assert font in {"AtriumCJK", "STSong-Light"}
    assert font.encode() in data or b"AtriumCJK" in data
