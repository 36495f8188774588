"""Random ids for rows written as JSON (`atrium.sql.insert_rows`), made in bulk.

`uuid.uuid4()` reads the OS's random source once per id and builds a `UUID` object, whose
`str()` is then paid again when the row is encoded: about 2 µs an id, several ids a sale. Rows
that only ever go to the database as JSON take their ids from `uuid4_strings`: the same version-4
UUIDs (122 random bits from `os.urandom`), as their canonical strings, from one read.
"""

from __future__ import annotations

import os

# The variant's two high bits are 10: the nibble 0-f becomes 8-b.
_VARIANT = {f"{n:x}": f"{8 | (n & 3):x}" for n in range(16)}


def uuid4_strings(count: int) -> list[str]:
    """`count` random version-4 UUIDs as canonical strings (`str(uuid.uuid4())` each)."""
    raw = os.urandom(16 * count).hex()
    return [
        f"{raw[i : i + 8]}-{raw[i + 8 : i + 12]}-4{raw[i + 13 : i + 16]}-"
        f"{_VARIANT[raw[i + 16]]}{raw[i + 17 : i + 20]}-{raw[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]
