"""Importing a merchant's sales from a CSV file (merchants without a POS integration).

Columns (header row, English or Chinese names, any order):
- `external_id` / `小票号` (required): the merchant's ticket number, unique per merchant;
- `occurred_at` / `交易时间` (required): `YYYY-MM-DD HH:MM[:SS]` in the mall's time zone, or ISO 8601
  with an offset;
- `total` / `金额` (required): yuan with at most two decimals, e.g. `128.50`;
- `payments` / `支付方式` (optional): one method (`card`) for the whole total, or
  `method:amount` pairs separated by `;` (`cash:100;coupon:28.50`); empty means cash;
  methods: cash, card, alipay, wechat, points, coupon, stored_value;
- `member_no` / `会员号`, `phone` / `手机号` (optional, at most one): the member, who must exist;
- `category` / `品类` (optional): the category of the whole sale, for category rules.

UTF-8 (with or without BOM) or GB18030, as Excel saves it in China. Every row goes through
`record_sale` in its own transaction: a bad row is reported with its row number (header = 1),
field and error code, and the others are recorded. Rows already recorded with the same values
count as `replayed`, so importing a file twice records nothing twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.utils import timezone

from apps.merchants.models import Merchant
from apps.sales.choices import Channel
from apps.sales.errors import ImportInvalidError, SaleInvalidError
from apps.sales.services.sales import ItemLine, MemberRef, PaymentLine, record_sale
from atrium.csv_import import MAX_IMPORT_BYTES, MAX_IMPORT_ROWS, ImportRowError, decode_text
from atrium.errors import DomainError

_HEADERS = {
    "external_id": "external_id",
    "receipt_no": "external_id",
    "小票号": "external_id",
    "单号": "external_id",
    "occurred_at": "occurred_at",
    "time": "occurred_at",
    "交易时间": "occurred_at",
    "时间": "occurred_at",
    "total": "total",
    "amount": "total",
    "金额": "total",
    "payments": "payments",
    "payment": "payments",
    "支付方式": "payments",
    "member_no": "member_no",
    "会员号": "member_no",
    "phone": "phone",
    "手机号": "phone",
    "category": "category",
    "品类": "category",
}
_REQUIRED = ("external_id", "occurred_at", "total")
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")


@dataclass
class ImportReport:
    total: int = 0
    created: int = 0
    replayed: int = 0
    errors: list[ImportRowError] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.errors)


def _decode(content: bytes) -> str:
    text = decode_text(content)
    if text is None:
        raise ImportInvalidError("the file must be UTF-8 or GB18030 text")
    return text


def _occurred_at(value: str) -> dt.datetime:
    text = value.strip()
    for pattern in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(text, pattern).replace(
                tzinfo=timezone.get_default_timezone()
            )
        except ValueError:
            continue
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise SaleInvalidError("unreadable date and time", field="occurred_at") from exc
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _payments(value: str, total: str) -> list[PaymentLine]:
    text = value.strip()
    if not text:
        return [PaymentLine(method="cash", amount=total)]
    if ":" not in text:
        return [PaymentLine(method=text, amount=total)]
    lines = []
    for part in text.split(";"):
        method, _, amount = part.strip().partition(":")
        lines.append(PaymentLine(method=method.strip(), amount=amount.strip()))
    return lines


def import_sale_row(*, merchant: Merchant, row: Mapping[str, str], actor: str = "") -> bool:
    """Record one row of a file through `record_sale`; True when it was new, False when the
    same sale was already recorded. Raises the DomainError of the bad field."""
    total = row.get("total", "").strip()
    member_no, phone = row.get("member_no", "").strip(), row.get("phone", "").strip()
    member_ref = MemberRef(member_no=member_no or None, phone=phone or None)
    category = row.get("category", "").strip()
    result = record_sale(
        merchant=merchant,
        external_id=row.get("external_id", "").strip(),
        occurred_at=_occurred_at(row.get("occurred_at", "")),
        total=total,
        payments=_payments(row.get("payments", ""), total),
        items=[ItemLine(amount=total, category=category)] if category else [],
        member_ref=member_ref if (member_no or phone) else None,
        channel=Channel.IMPORT,
        join_by_phone=False,
        actor=actor,
    )
    return result.created


def read_sales_file(content: bytes) -> list[tuple[int, dict[str, str]]]:
    """The file's non-empty rows as (row number, header -> value), the header being row 1.

    Raises ImportInvalidError for a file that cannot be read at all.
    """
    if len(content) > MAX_IMPORT_BYTES:
        raise ImportInvalidError("the file is too large", max_bytes=MAX_IMPORT_BYTES)
    reader = csv.reader(io.StringIO(_decode(content)))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ImportInvalidError("the file is not valid CSV", detail=str(exc)) from exc
    if header is None:
        raise ImportInvalidError("the file is empty")
    columns = [_HEADERS.get(name.strip().lower(), _HEADERS.get(name.strip())) for name in header]
    missing = [name for name in _REQUIRED if name not in columns]
    if missing:
        raise ImportInvalidError("required columns are missing", missing=missing)
    try:
        rows = [
            (number, values)
            for number, values in enumerate(reader, start=2)
            if any(value.strip() for value in values)
        ]
    except csv.Error as exc:
        raise ImportInvalidError("the file is not valid CSV", detail=str(exc)) from exc
    if len(rows) > MAX_IMPORT_ROWS:
        raise ImportInvalidError("too many rows", max_rows=MAX_IMPORT_ROWS, rows=len(rows))
    return [
        (number, {name: value for name, value in zip(columns, values, strict=False) if name})
        for number, values in rows
    ]


def row_error(number: int, exc: DomainError) -> ImportRowError:
    """The report line of a row a service refused."""
    return ImportRowError(
        row=number, field=str(exc.extra.get("field", "")), code=exc.code, message=exc.message
    )


def import_sales(*, merchant: Merchant, content: bytes, actor: str = "") -> ImportReport:
    """Record every good row of a CSV file for one merchant; report the bad ones.

    Raises ImportInvalidError for a file that cannot be read at all.
    """
    rows = read_sales_file(content)
    report = ImportReport(total=len(rows))
    for number, row in rows:
        try:
            if import_sale_row(merchant=merchant, row=row, actor=actor):
                report.created += 1
            else:
                report.replayed += 1
        except DomainError as exc:
            report.errors.append(row_error(number, exc))
    return report
