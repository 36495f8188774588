"""Set-based statements over arrays: the sale writer's raw SQL (docs/adr/0015-set-based-sale-writer.md).

Django's psycopg cursor binds parameters client-side, quoting every array element into the SQL
text in Python; a batch of 500 sales sends thousands of elements. `execute_arrays` runs one
statement on the same connection and transaction with server-side binding instead: the arrays
travel as binary parameters, dumped by psycopg's C code. Statements are never prepared (a prepared
plan must not outlive the tenant's search_path).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from django.db import connection


def bind_columns(
    prefix: str, names: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> dict[str, list[Any]]:
    """Rows as one list per column, named `<prefix>_<name>`: the parameters of `unnest(...)`."""
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in names]
    return {f"{prefix}_{name}": column for name, column in zip(names, columns, strict=True)}


def execute_arrays(sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Run one statement (named `%(name)s` parameters) in the current transaction, server-side
    bound; returns its rows (none for a statement without results)."""
    with connection.cursor():
        pass  # Django's cursor sets the tenant's search_path on the connection
    raw = connection.connection
    assert raw is not None  # noqa: S101 - the cursor above opened it
    with psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=False)
        return list(cursor.fetchall()) if cursor.description else []
