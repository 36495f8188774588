"""A batch transfer (批量转账) file for a corporate online-banking upload.

The layout is the plain one most mainland banks' batch-transfer templates accept as CSV (ICBC,
CMB and BOC corporate banking differ in column order and optional columns, which the upload
screens let the operator map): one header row, then one row per payee with the sequence number,
payee account, payee name, bank name, the bank's CNAPS code (联行号), the amount in yuan with two
decimals, and the purpose (用途) shown on the payee's statement. GBK-encoded with CRLF line ends,
as the banks' upload screens expect; a last line carries the count and total for the operator's
check (笔数/总金额).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

HEADER = ("序号", "收款账号", "收款户名", "收款银行", "联行号", "金额", "用途")
CENT = Decimal("0.01")
_FORMULA = ("=", "+", "-", "@")


@dataclass(frozen=True)
class BankTransfer:
    account_no: str
    account_name: str
    bank_name: str
    cnaps_code: str
    amount: Decimal
    purpose: str


def _cell(value: str) -> str:
    # Cells a spreadsheet would evaluate are quoted as text (CSV injection).
    return f"'{value}" if value.startswith(_FORMULA) else value


def render(transfers: Sequence[BankTransfer]) -> bytes:
    """The file's bytes. Refuses non-positive amounts and amounts with fractions of a cent."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    total = Decimal("0.00")
    for index, t in enumerate(transfers, start=1):
        if t.amount <= 0 or t.amount != t.amount.quantize(CENT):
            raise ValueError(f"transfer {index}: the amount must be a positive number of cents")
        total += t.amount
        writer.writerow(
            (
                index,
                _cell(t.account_no),
                _cell(t.account_name),
                _cell(t.bank_name),
                _cell(t.cnaps_code),
                f"{t.amount:.2f}",
                _cell(t.purpose)[:40],
            )
        )
    writer.writerow(("合计", f"{len(transfers)}笔", "", "", "", f"{total:.2f}", ""))
    return out.getvalue().encode("gbk")
