"""What every CSV import shares: limits, the text encodings tills and Excel produce, row errors."""

from __future__ import annotations

from dataclasses import dataclass

MAX_IMPORT_ROWS = 5000
MAX_IMPORT_BYTES = 5 * 1024 * 1024
ENCODINGS = ("utf-8-sig", "gb18030")  # Excel in China saves GB18030 unless told otherwise


@dataclass(frozen=True)
class ImportRowError:
    """Why one row of a file was not imported."""

    row: int  # record number in the file, the header being row 1
    field: str
    code: str
    message: str


def decode_text(content: bytes) -> str | None:
    """The file as text, or None when it is neither UTF-8 nor GB18030."""
    for encoding in ENCODINGS:
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None
