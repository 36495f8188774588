"""Importing members from a CSV file (an operator's migration from an older system).

Columns (header row, English or Chinese names, any order): phone/手机号 (required), name/姓名,
birthday/生日 (YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD), gender/性别 (男/女/male/female), card/卡号.
UTF-8 (with or without BOM) or GB18030, as Excel saves it in China. Each row is its own
transaction: a bad row is reported with its row number (header = 1), field and error code and skipped; the
others are imported. A phone that already has a member counts as existing (its profile is left
alone, a free card number is added). So importing the same file twice creates nobody twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from apps.members import selectors
from apps.members.choices import Gender, IdentityKind, RegistrationChannel
from apps.members.errors import ImportInvalidError
from apps.members.identities import normalize_identity, normalize_phone
from apps.members.services.members import NewIdentity, join_member
from atrium.csv_import import MAX_IMPORT_BYTES, MAX_IMPORT_ROWS, ImportRowError, decode_text
from atrium.errors import DomainError

_HEADERS = {
    "phone": "phone",
    "mobile": "phone",
    "手机号": "phone",
    "手机": "phone",
    "name": "name",
    "姓名": "name",
    "birthday": "birthday",
    "生日": "birthday",
    "gender": "gender",
    "性别": "gender",
    "card": "card",
    "card_no": "card",
    "卡号": "card",
    "会员卡号": "card",
}
_GENDERS = {
    "": Gender.UNKNOWN,
    "男": Gender.MALE,
    "女": Gender.FEMALE,
    "male": Gender.MALE,
    "female": Gender.FEMALE,
    "m": Gender.MALE,
    "f": Gender.FEMALE,
}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")


@dataclass
class ImportReport:
    total: int = 0
    created: int = 0
    existing: int = 0
    errors: list[ImportRowError] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len({error.row for error in self.errors})


@dataclass(frozen=True)
class _Row:
    phone: str
    name: str
    birthday: dt.date | None
    gender: str
    card: str | None


def _decode(content: bytes) -> str:
    text = decode_text(content)
    if text is None:
        raise ImportInvalidError("the file is neither UTF-8 nor GB18030 text")
    return text


def _parse_birthday(raw: str) -> dt.date | None:
    if not raw:
        return None
    for pattern in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(raw, pattern).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    raise ValueError(raw)


def _check_row(line: int, values: Mapping[str, str]) -> tuple[_Row | None, list[ImportRowError]]:
    errors: list[ImportRowError] = []

    def fail(field_name: str, code: str, message: str) -> None:
        errors.append(ImportRowError(row=line, field=field_name, code=code, message=message))

    phone = ""
    try:
        phone = normalize_phone(values.get("phone", ""))
    except DomainError as exc:
        fail("phone", exc.code, "not a mainland China mobile number")
    name = values.get("name", "").strip()
    if len(name) > 100:
        fail("name", "members.profile_invalid", "name is longer than 100 characters")
    birthday = None
    try:
        birthday = _parse_birthday(values.get("birthday", "").strip())
    except ValueError:
        fail("birthday", "members.profile_invalid", "birthday is not a date (YYYY-MM-DD)")
    if birthday is not None and not dt.date(1900, 1, 1) <= birthday <= timezone.localdate():
        fail("birthday", "members.profile_invalid", "birthday is not plausible")
    gender = _GENDERS.get(values.get("gender", "").strip().lower())
    if gender is None:
        fail("gender", "members.profile_invalid", "gender is not 男/女/male/female")
    card = None
    raw_card = values.get("card", "").strip()
    if raw_card:
        try:
            card = normalize_identity(IdentityKind.CARD, raw_card)
        except DomainError as exc:
            fail("card", exc.code, "card number is not valid")
    if errors:
        return None, errors
    return _Row(phone=phone, name=name, birthday=birthday, gender=gender or "", card=card), []


def _join(line: int, row: _Row) -> tuple[bool, list[ImportRowError]]:
    phone_holder = selectors.identity_holder(kind=IdentityKind.PHONE, value=row.phone)
    if row.card:
        card_holder = selectors.identity_holder(kind=IdentityKind.CARD, value=row.card)
        if card_holder is not None and (
            phone_holder is None or card_holder.member_id != phone_holder.member_id
        ):
            error = ImportRowError(
                row=line,
                field="card",
                code="members.identity_taken",
                message="card number belongs to another member",
            )
            return False, [error]
    with transaction.atomic():
        joined = join_member(
            channel=RegistrationChannel.IMPORT,
            phone=row.phone,
            identities=[NewIdentity(IdentityKind.CARD, row.card)] if row.card else (),
            name=row.name,
            birthday=row.birthday,
            gender=row.gender,
        )
    return joined.created, []


def import_member_row(*, line: int, values: Mapping[str, str]) -> tuple[bool, list[ImportRowError]]:
    """Import one row: (created, errors). No errors and not created: the phone had a member.

    Safe to repeat: a phone that already has a member is left alone.
    """
    row, errors = _check_row(line, values)
    if row is None:
        return False, errors
    try:
        return _join(line, row)
    except DomainError as exc:
        return False, [ImportRowError(row=line, field="row", code=exc.code, message=exc.message)]


def read_members_file(content: bytes) -> list[tuple[int, dict[str, str]]]:
    """The file's non-empty rows as (row number, column -> value), the header being row 1.

    Raises ImportInvalidError when the file itself is unusable (encoding, no phone column, too
    many rows).
    """
    if len(content) > MAX_IMPORT_BYTES:
        raise ImportInvalidError("the file is too large", max_bytes=MAX_IMPORT_BYTES)
    reader = csv.reader(io.StringIO(_decode(content)))
    try:
        header = next(reader, None)
        if header is None:
            raise ImportInvalidError("the file is empty")
        columns = [_HEADERS.get(name.strip().lower()) for name in header]
        if "phone" not in columns:
            raise ImportInvalidError("the file has no phone column", columns=list(_HEADERS))
        rows = [
            (line, cells)
            for line, cells in enumerate(reader, start=2)
            if any(c.strip() for c in cells)
        ]
    except csv.Error as exc:
        raise ImportInvalidError("the file is not valid CSV", detail=str(exc)) from exc
    if len(rows) > MAX_IMPORT_ROWS:
        raise ImportInvalidError("too many rows in one file", max_rows=MAX_IMPORT_ROWS)
    return [
        (
            line,
            {
                column: cell.strip()
                for column, cell in zip(columns, cells, strict=False)
                if column is not None
            },
        )
        for line, cells in rows
    ]


def import_members(*, content: bytes) -> ImportReport:
    """Import members from CSV bytes; returns counts and an error per bad field of each bad row.

    Raises ImportInvalidError when the file itself is unusable (encoding, no phone column, too
    many rows).
    """
    rows = read_members_file(content)
    report = ImportReport(total=len(rows))
    for line, values in rows:
        created, errors = import_member_row(line=line, values=values)
        if errors:
            report.errors.extend(errors)
        elif created:
            report.created += 1
        else:
            report.existing += 1
    return report
