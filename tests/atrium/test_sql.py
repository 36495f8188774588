"""The writer's raw SQL helpers: pipelined statements, JSON rows, fragments written together."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atrium.sql import (
    Statement,
    insert_rows,
    json_rows,
    pg_array,
    run_statements,
    write_together,
)

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
COLUMNS = ("id", "amount", "at", "day", "note", "n")


@pytest.fixture
def scratch(db):
    """A temporary table of the column types the writer passes (dropped at the end)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE scratch (id uuid PRIMARY KEY, amount numeric(14, 2), "
            "at timestamptz, day date, note text, n bigint)"
        )
    yield "scratch"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE scratch")


def _read(table):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM {table} ORDER BY n")
        return cursor.fetchall()


def test_rows_round_trip_exactly_through_json(scratch):
    rows = [
        (uuid.UUID(int=1), Decimal("12.30"), dt.datetime(2026, 11, 23, 23, 59, 59, 123456,
         tzinfo=SHANGHAI), dt.date(2026, 11, 23), "奶茶 \"双份\" \\ 半糖", 1),
        (uuid.UUID(int=2), None, None, None, None, 2),
    ]  # fmt: skip
    with transaction.atomic():
        write_together([insert_rows(scratch, COLUMNS, rows)])
    first, second = _read(scratch)
    assert first == (
        uuid.UUID(int=1),
        Decimal("12.30"),
        dt.datetime(2026, 11, 23, 15, 59, 59, 123456, tzinfo=dt.UTC),
        dt.date(2026, 11, 23),
        '奶茶 "双份" \\ 半糖',
        1,
    )
    assert second == (uuid.UUID(int=2), None, None, None, None, 2)


money = st.decimals(min_value=Decimal("-999999999999.99"), max_value=Decimal("999999999999.99"),
                    places=2, allow_nan=False, allow_infinity=False)  # fmt: skip
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


# The table is the fixture's; every example rolls its rows back.
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(amounts=st.lists(money, min_size=1, max_size=20), notes=st.lists(texts, min_size=20))
def test_any_amount_and_text_arrives_unchanged(scratch, amounts, notes):
    rows = [(uuid.uuid4(), amount, None, None, notes[i], i) for i, amount in enumerate(amounts)]
    with transaction.atomic():
        write_together([insert_rows(scratch, COLUMNS, rows)])
        assert [(r[1], r[4]) for r in _read(scratch)] == [(r[1], r[4]) for r in rows]
        transaction.set_rollback(True)


def test_fragments_are_one_statement_and_a_failure_writes_nothing(scratch):
    good = insert_rows(scratch, COLUMNS, [(uuid.UUID(int=1), Decimal(1), None, None, "a", 1)])
    clash = insert_rows(scratch, COLUMNS, [(uuid.UUID(int=1), Decimal(2), None, None, "b", 2)])
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        write_together([good])
    assert len(queries.captured_queries) == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        write_together(
            [insert_rows(scratch, COLUMNS, [(uuid.UUID(int=3), None, None, None, "c", 3)]), clash]
        )
    assert [r[0] for r in _read(scratch)] == [uuid.UUID(int=1)]


def test_pipelined_statements_run_in_order_each_seeing_the_ones_before(scratch):
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        results = run_statements(
            [
                Statement(
                    f"INSERT INTO {scratch} (id, n) VALUES (%(id)s, 7)", {"id": uuid.UUID(int=7)}
                ),
                Statement(f"SELECT n FROM {scratch} WHERE id = %(id)s", {"id": uuid.UUID(int=7)}),
                Statement("SELECT %(a)s::int + %(b)s::int", {"a": 2, "b": 3}),
            ]
        )
    assert results == [[], [(7,)], [(5,)]]
    assert len(queries.captured_queries) == 3


offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)
moments = st.datetimes(
    min_value=dt.datetime(1970, 1, 2),  # noqa: DTZ001 - Hypothesis takes naive bounds
    max_value=dt.datetime(2999, 12, 30),  # noqa: DTZ001
    timezones=offsets,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ats=st.lists(moments, min_size=1, max_size=20), days=st.lists(st.dates(), min_size=20))
def test_any_moment_and_day_arrives_unchanged(scratch, ats, days):
    """The encoder writes aware datetimes with their offset and microseconds, and dates, so
    PostgreSQL reads back the same instant and day."""
    rows = [(uuid.uuid4(), None, at, days[i], None, i) for i, at in enumerate(ats)]
    with transaction.atomic():
        write_together([insert_rows(scratch, COLUMNS, rows)])
        assert [(r[2], r[3]) for r in _read(scratch)] == [(r[2], r[3]) for r in rows]
        transaction.set_rollback(True)


def test_json_rows_keys_each_row_by_column():
    assert json_rows(("id", "amount"), [(uuid.UUID(int=1), Decimal("0.10"))]) == (
        '[{"id":"00000000-0000-0000-0000-000000000001","amount":"0.10"}]'
    )
    with pytest.raises(TypeError):
        json_rows(("x",), [(object(),)])


def _prepared_count(sql):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement = %s", [sql])
        return cursor.fetchone()[0]


def test_a_prepared_statement_reads_the_schema_of_the_moment(db):
    """The writer's statements are prepared once used twice, and a prepared plan follows
    search_path: the same statement alternating between two schemas reads each one's table."""
    with connection.cursor() as cursor:
        for schema, value in (("prep_a", 1), ("prep_b", 2)):
            cursor.execute(f"CREATE SCHEMA {schema}")
            cursor.execute(f"CREATE TABLE {schema}.t (v int)")
            cursor.execute(f"INSERT INTO {schema}.t VALUES ({value})")
    sql = "SELECT v FROM t WHERE v > %(floor)s"
    seen = []
    try:
        for round_ in range(6):
            schema = ("prep_a", "prep_b")[round_ % 2]
            with connection.cursor() as cursor:
                cursor.execute(f"SET search_path = {schema}")
            seen.append(run_statements([Statement(sql, {"floor": 0})])[0])
        assert seen == [[(1,)], [(2,)], [(1,)], [(2,)], [(1,)], [(2,)]]
        assert _prepared_count("SELECT v FROM t WHERE v > $1") == 1
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET search_path = public")
            cursor.execute("DROP SCHEMA prep_a, prep_b CASCADE")


def test_statements_follow_a_tenant_switch_inside_one_transaction(mall_a, mall_b):
    """The writer reuses the open connection without a Django cursor once the search path is
    set; a tenant switch in the same transaction still sends the next statement to its schema."""
    from apps.merchants.services import create_merchant
    from atrium.tenancy import tenant_connection

    count = Statement("SELECT count(*) FROM merchants_merchant", {})
    seen = []
    with transaction.atomic():
        tenant_connection().set_tenant(mall_a)
        create_merchant(name="Only in A", business_format="retail")
        for tenant in (mall_a, mall_b, mall_a, mall_b):
            tenant_connection().set_tenant(tenant)
            # The first call after the switch sets the path; the second reuses the connection.
            seen.append((run_statements([count])[0], run_statements([count])[0]))
        tenant_connection().set_schema_to_public()
        transaction.set_rollback(True)
    assert seen == [([(1,)], [(1,)]), ([(0,)], [(0,)]), ([(1,)], [(1,)]), ([(0,)], [(0,)])]


def _frontend_messages(trace):
    # libpq's trace: one message a line, "F" for what the client sent, then length and type.
    # A Flush only asks the server to send what it has: not a round trip, and psycopg sends
    # one or not depending on when it reads.
    sent = [line.split("\t")[2].split(" ")[0] for line in trace if line.startswith("F\t")]
    return [message for message in sent if message != "Flush"]


def test_a_tenants_search_path_goes_in_the_pipeline_of_the_first_statements(mall_a, tmp_path):
    """After a tenant switch the path is set in the same round trip as the statements: one
    Sync for both, no separate query (the server still runs the SET first)."""
    from psycopg import pq

    from atrium.tenancy import tenant_connection

    # A text no other test sends: unprepared on its first run, prepared on its second.
    sql = f"SELECT count(*) FROM merchants_merchant /* {uuid.uuid4()} */"
    count = Statement(sql, {})
    trace = tmp_path / "libpq.trace"
    with transaction.atomic():
        tenant_connection().set_tenant(mall_a)
        raw = connection.connection
        with trace.open("w") as out:
            raw.pgconn.trace(out.fileno())
            raw.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
            try:
                first = run_statements([count])
                second = run_statements([count])
            finally:
                raw.pgconn.untrace()
        tenant_connection().set_schema_to_public()
        transaction.set_rollback(True)
    lines = trace.read_text().splitlines()
    sent = _frontend_messages(lines)
    # A Parse line reads ` "<prepared name>" "<sql>" <parameter count>`: keep the SQL.
    parsed = [
        line.split('" "', 1)[1].removesuffix('" 0')
        for line in lines
        if line.startswith("F\t") and "\tParse\t" in line
    ]
    assert first == second == [[(0,)]]
    statement = ["Parse", "Bind", "Describe", "Execute"]
    # The first call: the SET and the count, then one Sync (one round trip); the second, the
    # path already set, the count alone. No simple query was sent for the path.
    assert sent == [*statement, *statement, "Sync", *statement, "Sync"]
    assert parsed == [
        f'SET search_path = "{mall_a.schema_name}","public"',
        sql,
        sql,
    ]


def test_a_path_set_with_statements_that_failed_is_set_again(mall_a):
    """The SET rides with statements; when one of them fails and its savepoint rolls back, the
    SET is undone with it, and the next statements set the path again."""
    from apps.merchants.services import create_merchant
    from atrium.tenancy import tenant_connection

    count = Statement("SELECT count(*) FROM merchants_merchant", {})
    failing = Statement("SELECT 1 / 0", {})
    with transaction.atomic():
        tenant_connection().set_tenant(mall_a)
        create_merchant(name="Only in A", business_format="retail")
        tenant_connection().set_tenant(mall_a)  # forgets the path: the next statements set it
        with pytest.raises(DataError), transaction.atomic():
            run_statements([count, failing])
        seen = run_statements([count])
        tenant_connection().set_schema_to_public()
        transaction.set_rollback(True)
    assert seen == [[(1,)]]


def _array(literal, of):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{of}[]", [literal])
        return cursor.fetchone()[0]


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(texts, max_size=12),
    numbers=st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=12),
    ids=st.lists(st.uuids(), max_size=12),
)
@pytest.mark.django_db
def test_array_literals_arrive_as_the_values_given(words, numbers, ids):
    # Any text (quotes, backslashes, commas, braces, blanks, "NULL", the empty string), any
    # bigint and any UUID, in order; an empty list is an empty array.
    assert _array(pg_array(words), "text") == words
    assert _array(pg_array(numbers), "bigint") == numbers
    assert _array(pg_array(ids), "uuid") == ids
    assert _array(pg_array(iter(['"', "\\", "a,b", "{}", "NULL", "", " x "])), "text") == [
        '"', "\\", "a,b", "{}", "NULL", "", " x ",
    ]  # fmt: skip
