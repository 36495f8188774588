"""Statement exports: CSV, XLSX (openpyxl) and PDF (reportlab), in the active language.

PDF and Chinese: reportlab embeds TrueType-outline fonts only, so the first CJK TrueType font
found on the machine is embedded; Debian's Noto CJK (fonts-noto-cjk) ships PostScript (CFF)
outlines that reportlab refuses, and then the PDF uses Adobe's standard `STSong-Light` CID font,
which every PDF reader maps to a Chinese system font (nothing embedded, the text stays text).
"""

from __future__ import annotations

import csv
import functools
import io
import logging
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from django.utils.translation import gettext as _

from apps.settlement.models import Statement, StatementLine
from apps.settlement.statement_choices import LineSection, PayoutRoute, StatementStatus

logger = logging.getLogger(__name__)

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)
CID_FALLBACK = "STSong-Light"
_FORMULA = ("=", "+", "-", "@")


def summary_rows(statement: Statement) -> list[tuple[str, Decimal]]:
    """The statement's totals, labelled, in reading order."""
    return [
        (_("销售总额"), statement.gross_sales),
        (_("退款"), statement.refunds),
        (_("扣点佣金"), statement.commission),
        (_("支付手续费"), statement.channel_fees),
        (_("平台服务费"), statement.platform_fees),
        (_("商场补贴及券补贴"), statement.subsidies),
        (_("商户应得（销售分账）"), statement.merchant_due),
        (_("积分清算"), statement.points_clearing),
        (_("租金"), statement.rent),
        (_("保底补差"), statement.minimum_topup),
        (_("应付商户净额"), statement.net_payable),
    ]


def line_label(line: StatementLine) -> str:
    from apps.clearing.choices import ClearingRole
    from apps.settlement.choices import LineKind, Party

    section = LineSection(line.section).label
    if line.section in (LineSection.SALE, LineSection.REFUND):
        return f"{section} / {Party(line.party).label} / {LineKind(line.kind).label}"
    if line.section == LineSection.POINTS:
        return f"{section} / {ClearingRole(line.kind).label}"
    return str(section)


def _header(statement: Statement) -> list[tuple[str, str]]:
    return [
        (_("结算单号"), statement.number),
        (_("商户"), statement.merchant.name),
        (_("结算期间"), f"{statement.period_start:%Y-%m-%d} ~ {statement.period_end:%Y-%m-%d}"),
        (_("状态"), str(StatementStatus(statement.status).label)),
        (
            _("付款方式"),
            _("出账时确定")
            if statement.status == StatementStatus.DRAFT
            else str(PayoutRoute(statement.payout_route).label),
        ),
    ]


def _lines(statement: Statement) -> Sequence[StatementLine]:
    return list(statement.lines.order_by("position"))


def _text(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA) else value


def render_csv(statement: Statement) -> bytes:
    """UTF-8 with a BOM (Excel in China opens it right), one section after another."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for label, value in _header(statement):
        writer.writerow([label, _text(value)])
    writer.writerow([])
    writer.writerow([_("项目"), _("笔数"), _("积分"), _("金额")])
    for line in _lines(statement):
        writer.writerow([line_label(line), line.count, line.points, f"{line.amount:.2f}"])
    writer.writerow([])
    for label, amount in summary_rows(statement):
        writer.writerow([label, "", "", f"{amount:.2f}"])
    return ("\ufeff" + out.getvalue()).encode()


def render_xlsx(statement: Statement) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None  # noqa: S101 - a new workbook has one sheet
    sheet.title = _("结算单")
    for label, value in _header(statement):
        sheet.append([label, value])
    sheet.append([])
    sheet.append([_("项目"), _("笔数"), _("积分"), _("金额")])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for line in _lines(statement):
        sheet.append([line_label(line), line.count, line.points, line.amount])
        sheet.cell(row=sheet.max_row, column=4).number_format = "#,##0.00"
    sheet.append([])
    for label, amount in summary_rows(statement):
        sheet.append([label, None, None, amount])
        sheet.cell(row=sheet.max_row, column=4).number_format = "#,##0.00"
    sheet[f"A{sheet.max_row}"].font = Font(bold=True)
    sheet.column_dimensions["A"].width = 36
    sheet.column_dimensions["D"].width = 16
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@functools.cache
def pdf_font() -> str:
    """The name of a font reportlab can draw Chinese with (registered on first use)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    for path in _FONT_CANDIDATES:
        if Path(path).is_file():
            try:
                pdfmetrics.registerFont(TTFont("AtriumCJK", path, subfontIndex=0))
            except (TTFError, OSError, ValueError):
                continue
            return "AtriumCJK"
    pdfmetrics.registerFont(UnicodeCIDFont(CID_FALLBACK))
    return CID_FALLBACK


def render_pdf(statement: Statement) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = pdf_font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22)
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=13)
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
        bottomMargin=16 * mm, title=statement.number, author="Atrium",
    )  # fmt: skip
    style = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), font, 9),
            ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f4f5f7")]),
        ]
    )
    header = Table([[k, v] for k, v in _header(statement)], colWidths=[35 * mm, 130 * mm])
    header.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), font, 10)]))
    lines = Table(
        [[_("项目"), _("笔数"), _("积分"), _("金额（元）")]]
        + [[line_label(x), str(x.count), str(x.points), f"{x.amount:,.2f}"] for x in _lines(statement)],
        colWidths=[95 * mm, 20 * mm, 20 * mm, 35 * mm],
    )  # fmt: skip
    lines.setStyle(style)
    summary = Table(
        [[_("汇总"), _("金额（元）")]] + [[k, f"{v:,.2f}"] for k, v in summary_rows(statement)],
        colWidths=[135 * mm, 35 * mm],
    )
    summary.setStyle(style)
    summary.setStyle(TableStyle([("FONT", (0, -1), (-1, -1), font, 11)]))
    doc.build(
        [
            Paragraph(_("商户结算单"), title),
            Spacer(1, 4 * mm),
            header,
            Spacer(1, 6 * mm),
            lines,
            Spacer(1, 6 * mm),
            summary,
            Spacer(1, 8 * mm),
            Paragraph(_("本结算单各项合计均等于其明细行之和。"), body),
        ]
    )
    return out.getvalue()


EXPORTS = {
    "csv": ("text/csv; charset=utf-8", render_csv),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", render_xlsx),
    "pdf": ("application/pdf", render_pdf),
}
