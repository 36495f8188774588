"""The sale writer's raw SQL (docs/adr/0015-set-based-sale-writer.md,
docs/adr/0016-sale-writer-round-trips.md): statements run on Django's connection and transaction
with server-side binding, bypassing the ORM's per-row model building and SQL compilation.

- `insert_rows`: a table's rows as ONE JSON parameter read by `json_populate_recordset`, typed by
  the table's own row type. (psycopg dumps list parameters element by element in Python, and
  re-parses every statement with more than 50 parameters or 4,096 characters.)
- `run_statements`: several statements sent together in psycopg's pipeline mode. The server
  still runs them one after the other, each with its own snapshot (READ COMMITTED), so a read
  placed after a lock sees what the lock waited for.
- `write_together`: several data-modifying fragments (`insert_rows`, an `UPDATE … FROM
  json_populate_recordset(…)`) as the CTEs of one statement. They share one snapshot, so they
  must not read each other's rows; foreign keys are deferred to the commit, so a row may
  reference a row another fragment inserts.

Statements are prepared by psycopg from their second use on a connection (the settings'
`prepare_threshold`; Django's own default turns preparing off): PostgreSQL re-plans a prepared
statement whenever search_path changed since it was planned, so a plan never crosses tenants.
Lookups by key in growing tables are not prepared (`Statement.prepare`, ADR 0024).
Errors come out as Django's database errors, and the statements are logged where Django logs
queries.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import psycopg
import psycopg.sql
from django.db import connection

_PARAM = re.compile(r"%\((\w+)\)([sb])")


def _json_value(value: object) -> object:
    # orjson writes str, int, bool, None, UUIDs and dates itself (aware datetimes with their
    # offset and microseconds, as `isoformat`); a column value of another type is an error.
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a column value")


def json_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Rows as a JSON array of objects keyed by column name: one text parameter for
    `json_populate_recordset`, however many rows (binary arrays cost psycopg a Python-level
    dump per column, and a statement with more than 50 parameters is parsed anew every time).
    Encoded by orjson: about a quarter of the standard encoder's time (ADR 0020)."""
    return orjson.dumps(
        [dict(zip(columns, row, strict=True)) for row in rows], default=_json_value
    ).decode()


def pg_array(values: Iterable[object]) -> str:
    """A PostgreSQL array literal of these values (text, UUIDs or integers, no NULL), for a
    parameter cast to an array type (`%(ids)s::uuid[]`). psycopg dumps a Python list element by
    element in Python, about 180 µs for 100 values; this is one join."""
    items = [str(value) for value in values]
    if not items:
        return "{}"
    joined = '","'.join(items)
    if "\\" in joined or '"' in joined:
        joined = '","'.join(item.replace("\\", "\\\\").replace('"', '\\"') for item in items)
    return '{"' + joined + '"}'


def insert_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Statement:
    """`INSERT INTO table (columns)` of rows given as tuples in column order, as one statement
    with one parameter (typed by the table's own row type)."""
    return insert_draft(table, columns, rows, key=None).statement()


def insert_draft(
    table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, key: str | None
) -> Draft:
    """`insert_rows` as a `Draft` whose rows can be left out by their `key` column (None: by
    none)."""
    names = ", ".join(columns)
    return Draft(
        f"INSERT INTO {table} ({names}) SELECT {names} "  # noqa: S608 - names only
        f"FROM json_populate_recordset(NULL::{table}, %(rows)s::json) AS r{{skip}}",
        json_rows(columns, rows),
        key=f"r.{key}" if key is not None else None,
        joiner="WHERE",
    )


@dataclass(frozen=True)
class Draft:
    """A fragment encoded before its transaction's locks were taken, and written under them by
    `statement`, which can leave out the rows whose key is among some values: rows that turned
    out stale once the locks were held, written again by a fresh fragment
    (docs/adr/0019-awards-planned-before-the-locks.md).

    `sql` holds `%(rows)s` (the encoded rows) and a `{skip}` marker where the condition goes,
    after `joiner` (`WHERE`, or `AND` after a WHERE of its own); `key` is the SQL expression of
    a row's key (a uuid; None for a draft whose rows cannot be left out)."""

    sql: str
    rows: str
    key: str | None
    joiner: str

    def statement(self, skip: Iterable[Any] = ()) -> Statement:
        left_out = sorted({str(value) for value in skip})
        if not left_out:
            return Statement(self.sql.replace("{skip}", ""), {"rows": self.rows})
        if self.key is None:
            raise ValueError("this draft's rows have no key to be left out by")
        condition = f" {self.joiner} NOT coalesce({self.key} = ANY(%(skip)s::uuid[]), false)"
        return Statement(
            self.sql.replace("{skip}", condition), {"rows": self.rows, "skip": left_out}
        )


@dataclass(frozen=True)
class Statement:
    """One SQL statement with named `%(name)s` (text) or `%(name)b` (binary) parameters.

    `prepare=False` plans the statement anew on every run, for a lookup by key in a table that
    grows while the connection lives (sales, members, accounts). A prepared statement's plan
    can turn generic after five runs and is then kept until the table is analyzed again: a plan
    made while a new mall's table held a few rows scans the whole table on every run once it
    holds thousands (measured: each POS write of the sales bench scanned the sales table).
    A fresh plan sees the table's current size."""

    sql: str
    params: Mapping[str, Any]
    prepare: bool | None = None  # None: prepared from its second run (the settings' threshold)


def _raw() -> psycopg.Connection[Any]:
    raw, paths = _open()
    if paths is not None:
        with connection.cursor():
            pass  # Django's cursor sets the tenant's search_path on the connection
    return raw


def _open() -> tuple[psycopg.Connection[Any], list[str] | None]:
    """The open connection of the current transaction, and the search_path (django-tenants'
    schemas for the current tenant) still to set on it, or None when it is set."""
    raw = connection.connection
    # django-tenants clears `search_path_set_schemas` whenever the tenant changes, on rollback
    # and on close: set, the open connection's path is the current tenant's. Building Django's
    # cursor just to learn that costs about 0.2 ms, three times a sale write.
    path_set = getattr(connection, "search_path_set_schemas", None)  # django-tenants' backend
    if raw is not None and connection.in_atomic_block:
        if path_set:
            return raw, None
        paths = getattr(connection, "_get_cursor_search_paths", None)
        if paths is not None and connection.schema_name:  # type: ignore[attr-defined]
            return raw, list(paths())
    with connection.cursor():
        pass  # opens the connection (and sets the path, where django-tenants is in use)
    raw = connection.connection
    assert raw is not None  # noqa: S101 - the cursor above opened it
    return raw, None


def _set_path(raw: psycopg.Connection[Any], paths: Sequence[str]) -> Statement:
    names = psycopg.sql.SQL(",").join(psycopg.sql.Identifier(p) for p in paths)
    sql = psycopg.sql.SQL("SET search_path = {}").format(names).as_string(raw)
    return Statement(sql, {}, prepare=False)


def _logged(sqls: Sequence[str], started: float) -> None:
    # Where Django logs queries (DEBUG, CaptureQueriesContext), these statements count too.
    if connection.queries_logged:
        spent = f"{time.monotonic() - started:.3f}"
        connection.queries_log.extend({"sql": sql, "time": spent} for sql in sqls)


def execute_arrays(sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Run one statement (named `%(name)s` parameters) in the current transaction, server-side
    bound; returns its rows (none for a statement without results)."""
    started = time.monotonic()
    # Errors come out as Django's (IntegrityError, OperationalError...), as from the ORM.
    with connection.wrap_database_errors, psycopg.Cursor(_raw()) as cursor:
        cursor.execute(sql, params, prepare=None)
        rows = list(cursor.fetchall()) if cursor.description else []
    _logged([sql], started)
    return rows


def run_statements(statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
    """Run statements in order in the current transaction with one round trip (pipeline mode);
    the rows of each (none for a statement without results). An error raises at the end, and
    the transaction is then aborted like after any failed statement.

    When the connection does not have the tenant's search_path yet (after a tenant switch or a
    rollback), its SET goes ahead of the statements in the same round trip, not as a query of
    its own (ADR 0025)."""
    started = time.monotonic()
    raw, paths = _open()
    sent = [_set_path(raw, paths), *statements] if paths is not None else list(statements)
    cursors = [psycopg.Cursor(raw) for _ in sent]
    try:
        with connection.wrap_database_errors, raw.pipeline():
            for cursor, statement in zip(cursors, sent, strict=True):
                cursor.execute(statement.sql, statement.params, prepare=statement.prepare)
        results = [list(c.fetchall()) if c.description else [] for c in cursors]
    finally:
        for cursor in cursors:
            cursor.close()
    if paths is not None:
        # As django-tenants records a path it set; a rollback forgets it (the SET with it).
        connection.search_path_set_schemas = paths  # type: ignore[attr-defined]
        results = results[1:]
    _logged([s.sql for s in sent], started)
    return results


@functools.lru_cache(maxsize=256)
def _renamed(sql: str, prefix: str) -> str:
    return _PARAM.sub(lambda m: f"%({prefix}{m[1]}){m[2]}", sql)


def write_together(fragments: Sequence[Statement]) -> None:
    """Run data-modifying statements as the CTEs of one statement (each one's parameters renamed
    apart), in the current transaction. Empty input writes nothing."""
    if not fragments:
        return
    parts = []
    params: dict[str, Any] = {}
    for index, fragment in enumerate(fragments):
        prefix = f"w{index}_"
        parts.append(f"w{index} AS ({_renamed(fragment.sql, prefix)})")
        params.update({prefix + name: value for name, value in fragment.params.items()})
    execute_arrays("WITH " + ",\n".join(parts) + "\nSELECT 1", params)
