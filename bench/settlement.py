"""Settlement close benchmark: close a monthly period for many merchants, beside PostgreSQL
alone running the equivalent aggregate.

Run: `.venv/bin/python bench/settlement.py` (`--quick` for a smoke run, `--help` for options).

In one run, in a database of its own (`atrium_bench_settlement`, on the embedded PostgreSQL when
DATABASE_URL is unset, else on DATABASE_URL's server; created at the start, dropped at the end):

- one onboarded mall with `--merchants` merchants, each on a monthly contract (the four kinds in
  turn, so rent and guaranteed-minimum top-ups are computed too);
- `--sales` sales in October 2026 generated set-based (`INSERT … SELECT generate_series`), each
  with its split lines (merchant share, commission, and a channel fee for card/Alipay-like
  sales: about 2.5 lines a sale), 1 sale in 20 partly refunded (two negative lines), and points
  clearing lines for 1 sale in 50;
- the baseline: PostgreSQL alone running the aggregate the close needs (every merchant's lines
  of the month grouped by merchant, sale/refund, party and kind; and the clearing lines by
  merchant and role), best of three, in the same run;
- the close: `close_due_periods(today=2026-11-01)` in this process, timed, and the process's
  peak RSS (getrusage; it includes the setup, so it bounds the close from above).

It checks the result (one statement per merchant; Σ of the statements' money lines equals Σ of
the lines in the database) and prints the figures with the ratio to the baseline (targets:
within 3× of the aggregate, under 2 GB). Figures also go to bench/results/settlement.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sales import machine_facts, recreate_database, redis_url, server_url, with_database

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILE = REPO_ROOT / "bench" / "results" / "settlement.json"
SLUG = "bench-settlement"
TARGET_RATIO = 3.0
TARGET_BYTES = 2 * 1024**3


def check(condition: bool, message: str) -> None:
    if not condition:
        raise RuntimeError(f"wrong result: {message}")


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def generate(schema: str, *, sales: int) -> None:
    """Sales and their money lines, set-based, in October 2026 (Shanghai)."""
    from django.db import connection

    q = f'"{schema}"'
    with connection.cursor() as cursor:
        cursor.execute(f"SET search_path TO {q}, public")
        cursor.execute("SELECT array_agg(id ORDER BY id) FROM merchants_merchant")
        (merchants,) = cursor.fetchone()
        cursor.execute(
            """
            CREATE TEMP TABLE bench_sale AS
            SELECT gen_random_uuid() AS id, (%(m)s::uuid[])[1 + (i %% %(n)s)] AS merchant_id, i,
                   timestamptz '2026-10-01 00:00+08' + ((i - 1)::double precision / %(s)s) * interval '31 days' AS at,
                   round((10 + (i::bigint * 7919 %% 200000) / 100.0)::numeric, 2) AS total
            FROM generate_series(1, %(s)s) AS i
            """,
            {"m": merchants, "n": len(merchants), "s": sales},
        )
        cursor.execute(
            """
            INSERT INTO sales_sale (id, merchant_id, external_id, channel, occurred_at, total,
                eligible_amount, points_earned, growth_earned, tier_code, refunded_total,
                points_reversed, growth_reversed, status, member_ref_kind, request_hash, actor,
                created_at)
            SELECT id, merchant_id, 'B' || i, 'pos', at, total, total, 0, 0, '', 0, 0, 0,
                   'recorded', 'none', 'bench', '', now()
            FROM bench_sale
            """
        )
        # Commission 18%, a 0.6% channel fee on two sales in three; the merchant gets the rest.
        cursor.execute(
            """
            INSERT INTO settlement_splitline (id, sale_id, refund_id, merchant_id, party, kind,
                amount, settle_on, occurred_at, why, created_at)
            SELECT gen_random_uuid(), s.id, NULL, s.merchant_id, l.party, l.kind, l.amount,
                   (s.at AT TIME ZONE 'Asia/Shanghai')::date, s.at, '', now()
            FROM bench_sale s,
            LATERAL (SELECT round(s.total * 0.18, 2) AS c,
                            CASE WHEN s.i % 3 <> 0 THEN round(s.total * 0.006, 2) ELSE 0 END AS f) x,
            LATERAL (VALUES ('merchant', 'merchant_share', s.total - x.c - x.f),
                            ('mall', 'commission', x.c),
                            ('channel', 'channel_fee', x.f)) AS l(party, kind, amount)
            WHERE l.kind <> 'channel_fee' OR x.f > 0
            """
        )
        cursor.execute(
            """
            INSERT INTO sales_refund (id, sale_id, refund_id, amount, points_requested,
                points_reversed, growth_reversed, actor, created_at)
            SELECT gen_random_uuid(), id, 'R' || i, round(total / 2, 2), 0, 0, 0, '', now()
            FROM bench_sale WHERE i % 20 = 0
            """
        )
        cursor.execute(
            """
            INSERT INTO settlement_splitline (id, sale_id, refund_id, merchant_id, party, kind,
                amount, settle_on, occurred_at, why, created_at)
            SELECT gen_random_uuid(), s.id, r.id, s.merchant_id, l.party, l.kind, l.amount,
                   (s.at AT TIME ZONE 'Asia/Shanghai')::date, s.at, '', now()
            FROM bench_sale s JOIN sales_refund r ON r.sale_id = s.id,
            LATERAL (VALUES ('merchant', 'merchant_share', -(r.amount - round(r.amount * 0.18, 2))),
                            ('mall', 'commission', -round(r.amount * 0.18, 2))) AS l(party, kind, amount)
            """
        )
        cursor.execute(
            """
            INSERT INTO clearing_clearingline (id, entry_id, lot_id, merchant_id, role, points,
                amount, settle_on, occurred_at, sale_id, refund_id, created_at)
            SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), s.merchant_id,
                   'acceptor', 500, 5.00, (s.at AT TIME ZONE 'Asia/Shanghai')::date, s.at, s.id,
                   '', now()
            FROM bench_sale s WHERE s.i % 50 = 0
            """
        )
        cursor.execute("DROP TABLE bench_sale")
    connection.commit() if not connection.get_autocommit() else None
    with connection.cursor() as cursor:
        for table in ("sales_sale", "settlement_splitline", "clearing_clearingline"):
            cursor.execute(f"VACUUM ANALYZE {q}.{table}")


BASELINE_SQL = """
SELECT merchant_id, refund_id IS NOT NULL, party, kind, SUM(amount), COUNT(*)
FROM {q}.settlement_splitline WHERE settle_on BETWEEN '2026-10-01' AND '2026-10-31'
GROUP BY 1, 2, 3, 4;
SELECT merchant_id, role, SUM(amount), SUM(points), COUNT(*)
FROM {q}.clearing_clearingline WHERE settle_on BETWEEN '2026-10-01' AND '2026-10-31'
GROUP BY 1, 2;
"""


def baseline_seconds(schema: str) -> float:
    from django.db import connection

    best = float("inf")
    with connection.cursor() as cursor:
        for _ in range(3):
            began = time.perf_counter()
            for statement in BASELINE_SQL.format(q=f'"{schema}"').strip().split(";")[:2]:
                cursor.execute(statement)
                cursor.fetchall()
            best = min(best, time.perf_counter() - began)
    return best


def bench(args: argparse.Namespace) -> dict[str, object]:
    admin_url = server_url()
    os.environ["REDIS_URL"] = redis_url()
    database_url = with_database(admin_url, args.database)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="atrium.settings.bench",
        ATRIUM_BENCH_DATABASE=args.database,
        DATABASE_URL=database_url,
    )
    recreate_database(admin_url, args.database, create=True)
    try:
        log("migrating the benchmark database (public + template)")
        subprocess.run(
            [sys.executable, "manage.py", "migrate_schemas", "--noinput", "-v", "0"],
            cwd=REPO_ROOT, env=os.environ, check=True,
        )  # fmt: skip
        import django

        django.setup()
        import datetime as dt
        from decimal import Decimal

        from django.db.models import Sum
        from django_tenants.utils import tenant_context

        from apps.clearing.models import ClearingLine
        from apps.merchants.models import Contract, Merchant
        from apps.settlement.models import SplitLine, Statement, StatementLine
        from apps.settlement.services.statements import close_due_periods
        from tenants.services import onboard_tenant

        tenant = onboard_tenant(
            name="Bench Settlement", slug=SLUG, operator_username="owner"
        ).tenant
        kinds = ("concession", "fixed_rent", "rent_plus_commission", "guaranteed_minimum")
        with tenant_context(tenant):
            merchants = Merchant.objects.bulk_create(
                Merchant(name=f"Shop {i}") for i in range(args.merchants)
            )
            Contract.objects.bulk_create(
                Contract(
                    merchant=m, kind=kinds[i % 4], commission_rate=Decimal("0.1800"),
                    rent_amount=Decimal("20000.00"), minimum_amount=Decimal("9000.00"),
                    cycle="monthly", effective_from=dt.date(2026, 10, 1),
                )
                for i, m in enumerate(merchants)
            )  # fmt: skip
            log(f"generating {args.sales:,} sales and their money lines (set-based)")
            began = time.perf_counter()
            generate(tenant.schema_name, sales=args.sales)
            generated = time.perf_counter() - began
            lines = SplitLine.objects.count()
            clearing = ClearingLine.objects.count()
            log(f"{lines:,} split lines, {clearing:,} clearing lines in {generated:.1f} s")

            baseline = baseline_seconds(tenant.schema_name)
            log(f"PostgreSQL alone: {baseline:.3f} s")
            began = time.perf_counter()
            closed = close_due_periods(today=dt.date(2026, 11, 1), actor="bench")
            close = time.perf_counter() - began
            peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            after = baseline_seconds(tenant.schema_name)
            baseline = min(baseline, after)

            check(len(closed) == args.merchants, f"{len(closed)} statements")
            money_in = (SplitLine.objects.aggregate(s=Sum("amount"))["s"] or 0) + (
                ClearingLine.objects.aggregate(s=Sum("amount"))["s"] or 0
            )
            money_out = StatementLine.objects.filter(
                section__in=["sale", "refund", "points"]
            ).aggregate(s=Sum("amount"))["s"]
            check(money_in == money_out, f"money in {money_in} != out {money_out}")
            count_in = lines + clearing
            counted = sum(Statement.objects.values_list("line_count", flat=True))
            check(counted == count_in, f"{counted} lines in statements, {count_in} written")
        return {
            "machine": machine_facts(),
            "merchants": args.merchants,
            "sales": args.sales,
            "split_lines": lines,
            "clearing_lines": clearing,
            "generate_seconds": round(generated, 2),
            "postgres_aggregate_seconds": round(baseline, 3),
            "close_seconds": round(close, 3),
            "ratio": round(close / baseline, 2),
            "peak_rss_bytes": peak_rss,
            "money_checked": str(money_in),
        }
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            recreate_database(admin_url, args.database, create=False)


def report(figures: dict[str, object]) -> str:
    ratio = float(figures["ratio"])  # type: ignore[arg-type]
    rss = int(figures["peak_rss_bytes"])  # type: ignore[call-overload]
    return "\n".join(
        [
            f"Settlement close: {figures['merchants']:,} merchants, {figures['sales']:,} sales "
            f"({figures['split_lines']:,} split + {figures['clearing_lines']:,} clearing lines), one monthly period",
            f"  PostgreSQL alone, the equivalent aggregate (best of 6): {figures['postgres_aggregate_seconds']:.3f} s",
            f"  close_due_periods (statements, lines, cursors, events):  {figures['close_seconds']:.3f} s",
            f"  ratio: {ratio:.2f}x (target <= {TARGET_RATIO:.0f}x) {'OK' if ratio <= TARGET_RATIO else 'MISSED'}",
            f"  peak memory of the closing process: {rss / 1024**2:,.0f} MB RSS (getrusage; target < 2 GB) "
            f"{'OK' if rss < TARGET_BYTES else 'MISSED'}",
            f"  money checked: Σ statement lines = Σ money lines = {figures['money_checked']}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--merchants", type=int, default=500)
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--database", default="atrium_bench_settlement")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 50 merchants, 20,000 sales"
    )
    args = parser.parse_args()
    if args.quick:
        args.merchants, args.sales = 50, 20_000
    sys.path.insert(0, str(REPO_ROOT / "platform"))
    os.chdir(REPO_ROOT)
    figures = bench(args)
    print(report(figures))
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(figures, indent=2, default=str))
    log(f"figures written to {RESULTS_FILE.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
