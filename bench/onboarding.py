"""Onboarding and migration benchmark: ours (template clone) beside plain create-and-migrate.

Run: `make bench-onboarding` (or `.venv/bin/python bench/onboarding.py`; `--help` for options).

It works in a database of its own (`atrium_bench`, on the embedded PostgreSQL when DATABASE_URL
is unset, else on DATABASE_URL's server), created at the start and dropped at the end, with the
settings `atrium.settings.bench` (the test settings pointed at that database). It measures, on
this machine and in one run:

- onboarding one tenant through `tenants.services.onboard_tenant` (schema replayed from the
  migrated template, default program, owner invitation) when 1, 50 and 200 tenants exist;
- the baseline at the same levels: the same onboarding with the schema made by `CREATE SCHEMA`
  and the tenant migrations run into it (`migrate_schemas --schema <name>`, django-tenants'
  `run_migrations`);
- `manage.py migrate_schemas` over every tenant with nothing to do (ours: one query finds the
  stale schemas), with `--all-schemas` (every schema visited, in parallel) and django-tenants'
  stock command (every schema, one after another);
- a deploy that brings one new no-op migration: ours (template + every tenant, in parallel)
  beside the stock command.

It prints a table and writes every figure to bench/results/onboarding.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILE = REPO_ROOT / "bench" / "results" / "onboarding.json"
SETTINGS_MODULE = "atrium.settings.bench"
TARGET_SECONDS = 2.0
WARM_UP_ROUNDS = 2
# django-tenants' own command, not ours (ours overrides `migrate_schemas`): every schema, in turn.
STOCK_MIGRATE = (
    "import django; django.setup(); "
    "from django.core.management import call_command; "
    "from django_tenants.management.commands.migrate_schemas import Command; "
    "call_command(Command(), interactive=False, verbosity=0)"
)


# --- figures -------------------------------------------------------------------------------


@dataclass
class Series:
    """Wall-clock samples of one measurement, in seconds."""

    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    def summary(self) -> dict[str, Any]:
        return {
            "n": len(self.samples),
            "median_s": round(self.median, 4),
            "max_s": round(self.max, 4),
            "min_s": round(min(self.samples), 4),
            "samples_s": [round(s, 4) for s in self.samples],
        }


@dataclass
class Level:
    tenants: int
    ours: Series = field(default_factory=Series)
    baseline: Series = field(default_factory=Series)


@dataclass
class Results:
    machine: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    levels: list[Level] = field(default_factory=list)
    cold_first_onboarding_s: float = 0.0
    fill: list[float] = field(default_factory=list)
    breakdown: dict[str, Series] = field(default_factory=dict)
    migrate: dict[str, Series] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@contextmanager
def stopwatch(into: list[float]) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        into.append(time.perf_counter() - start)


# --- the benchmark's own database ----------------------------------------------------------


def server_url() -> str:
    """DATABASE_URL (also from .env, as the settings read it), else the embedded server's URL."""
    env_file = REPO_ROOT / ".env"
    if env_file.exists():
        import environ

        environ.Env.read_env(str(env_file))
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from atrium import embedded

    log(f"embedded PostgreSQL under {embedded.data_dir()}")
    return embedded.ensure_postgres()


def url_for_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def database_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def recreate_database(admin_url: str, name: str, *, create: bool) -> None:
    """Drop the benchmark database (ending its sessions), then create it afresh if asked."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def child_env(step: int) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "ATRIUM_BENCH_MIGRATION_STEP": str(step),
        "PYTHONUNBUFFERED": "1",
    }


def run_child(argv: Sequence[str], *, step: int = 1) -> tuple[float, str]:
    """Run a Python child in the repo root with the bench settings; (wall seconds, stdout)."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, *argv],
        cwd=REPO_ROOT,
        env=child_env(step),
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise RuntimeError(f"`{' '.join(argv)[:80]}` exited with {result.returncode}")
    return elapsed, result.stdout


def migrate_ours(*extra: str, step: int = 1) -> tuple[float, int, int]:
    """`manage.py migrate_schemas` (ours); (seconds, schemas migrated, tenant schemas)."""
    elapsed, out = run_child(
        ["manage.py", "migrate_schemas", "--noinput", "-v", "0", *extra], step=step
    )
    found = re.search(r"^(\d+) of (\d+) tenant schemas need migrating$", out, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"unexpected migrate_schemas output: {out[-500:]!r}")
    return elapsed, int(found.group(1)), int(found.group(2))


def migrate_stock(*, step: int = 1) -> float:
    return run_child(["-c", STOCK_MIGRATE], step=step)[0]


# --- in-process onboarding (Django set up on the bench database) ----------------------------


def setup_django() -> None:
    import django

    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    django.setup()


def onboard_ours(slug: str) -> float:
    """One tenant through the real onboarding service (template clone)."""
    from tenants.services import onboard_tenant

    start = time.perf_counter()
    onboard_tenant(
        name=f"Bench {slug}",
        slug=slug,
        operator_username="owner",
        operator_email=f"owner@{slug}.invalid",
    )
    return time.perf_counter() - start


def onboard_baseline(slug: str) -> float:
    """The same onboarding, with the schema made by CREATE SCHEMA + the tenant migrations."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone
    from django_tenants.utils import schema_context, tenant_context

    from apps.accounts.choices import StaffRole
    from apps.accounts.services import invite_staff
    from apps.loyalty.services import seed_default_program
    from tenants.models import Domain, Tenant
    from tenants.services import schema_name_for, validate_slug

    start = time.perf_counter()
    validate_slug(slug)
    with schema_context(settings.PUBLIC_SCHEMA_NAME), transaction.atomic():
        tenant = Tenant.objects.create(
            name=f"Bench {slug}",
            slug=slug,
            schema_name=schema_name_for(slug),
            display_name=f"Bench {slug}",
            status_changed_at=timezone.now(),
        )
        Domain.objects.create(
            domain=f"{slug}.{settings.BASE_DOMAIN}", tenant=tenant, is_primary=True
        )
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{tenant.schema_name}"')
    call_command("migrate_schemas", schema_name=tenant.schema_name, interactive=False, verbosity=0)
    with tenant_context(tenant), transaction.atomic():
        seed_default_program(today=timezone.localdate())
        invite_staff(
            username="owner", email=f"owner@{slug}.invalid", role=StaffRole.OWNER, password=None
        )
    return time.perf_counter() - start


def tenant_count() -> int:
    from tenants.models import Tenant

    return Tenant.objects.count()


def drop_tenants(slugs: Sequence[str]) -> None:
    from django.db import connection

    from tenants.models import Tenant

    connection.set_schema_to_public()
    for tenant in Tenant.objects.filter(slug__in=list(slugs)):
        tenant.delete(force_drop=True)


def measure(fn: Callable[[], object], repeat: int) -> Series:
    series = Series()
    for _ in range(repeat):
        with stopwatch(series.samples):
            fn()
    return series


def breakdown(repeat: int) -> dict[str, Series]:
    """Where our onboarding spends its time, at the largest level."""
    from django.db import connection, transaction

    from tenants import template
    from tenants.models import Tenant

    schemas = list(Tenant.objects.values_list("schema_name", flat=True))
    connection.set_schema_to_public()
    whole, clone = Series(), Series()
    for _ in range(repeat):
        whole.samples.append(onboard_ours("probe-whole"))
        drop_tenants(["probe-whole"])
        with stopwatch(clone.samples), transaction.atomic():
            template.clone_into("t_bench_probe")
        with connection.cursor() as cursor:
            cursor.execute('DROP SCHEMA "t_bench_probe" CASCADE')
    return {
        "whole onboard_tenant call, measured alongside": whole,
        "template freshness check (migration graph from disk + 1 query)": measure(
            template.ensure_template_fresh, repeat
        ),
        "clone script lookup (cached dump, 1 query)": measure(template.clone_script, repeat),
        "clone_into: check + CREATE SCHEMA + DDL replay + commit": clone,
        f"stale-schema query over {len(schemas)} schemas": measure(
            lambda: template.stale_schemas(schemas), repeat
        ),
    }


def schemas_with_migration(name: str) -> tuple[int, int]:
    """How many tenant schemas record bench_noop.<name>, and how many tenant schemas exist."""
    from django.db import connection

    from tenants.models import Tenant

    schemas = list(Tenant.objects.values_list("schema_name", flat=True))
    union = " UNION ALL ".join(
        f"SELECT 1 FROM \"{s}\".django_migrations WHERE app = 'bench_noop' AND name = %s"  # noqa: S608
        for s in schemas
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({union}) m", [name] * len(schemas))  # noqa: S608
        return int(cursor.fetchone()[0]), len(schemas)


# --- the run --------------------------------------------------------------------------------


def run(args: argparse.Namespace, results: Results) -> None:
    log("migrating the fresh benchmark database (public + template)")
    first_migrate, _, _ = migrate_ours()
    results.migrate["fresh database: public + template"] = Series([first_migrate])

    setup_django()
    from django.conf import settings

    results.parameters["migrate_processes"] = settings.TENANT_MULTIPROCESSING_MAX_PROCESSES
    if "pool" not in settings.DATABASES["default"].get("OPTIONS", {}):
        results.notes.append(
            "no psycopg pool in these runs: the parallel migrate_schemas forks with the pool open "
            "(see atrium/settings/bench.py)"
        )
    filled = 0

    def fill_to(level: int) -> None:
        nonlocal filled
        while tenant_count() < level:
            filled += 1
            seconds = onboard_ours(f"fill-{filled:04d}")
            if filled == 1:
                results.cold_first_onboarding_s = seconds
            else:
                results.fill.append(seconds)

    for level in args.levels:
        fill_start = time.perf_counter()
        fill_to(level)
        if level == args.levels[0]:
            # A fresh database and connection are slower for the first few schemas; warm both
            # paths up (tenants dropped, figures not counted) so the first level is comparable.
            for i in range(WARM_UP_ROUNDS):
                onboard_ours(f"warm-{i}")
                onboard_baseline(f"warm-base-{i}")
                drop_tenants([f"warm-{i}", f"warm-base-{i}"])
        log(f"{tenant_count()} tenants exist (filled in {time.perf_counter() - fill_start:.1f} s)")
        row = Level(tenants=level)
        # Interleaved, so that a busy moment on the machine hits both sides alike; every sample
        # is dropped again, so that each one sees exactly `level` tenants.
        for i in range(max(args.samples, args.baseline_samples)):
            if i < args.samples:
                row.ours.samples.append(onboard_ours(f"ours-{level}-{i}"))
                drop_tenants([f"ours-{level}-{i}"])
            if i < args.baseline_samples:
                row.baseline.samples.append(onboard_baseline(f"base-{level}-{i}"))
                drop_tenants([f"base-{level}-{i}"])
        log(
            f"at {level}: ours median {row.ours.median:.3f} s, "
            f"baseline median {row.baseline.median:.3f} s"
        )
        results.levels.append(row)

    top = tenant_count()
    results.breakdown = breakdown(args.samples)

    log(f"migrate_schemas over {top} tenants")
    results.migrate["process start (manage.py version)"] = measure(
        lambda: run_child(["manage.py", "version"]), 3
    )
    noop = Series()
    for _ in range(3):
        seconds, todo, total = migrate_ours()
        if (todo, total) != (0, top):
            raise RuntimeError(f"expected 0 of {top} schemas to migrate, got {todo} of {total}")
        noop.samples.append(seconds)
    results.migrate["ours, nothing to do (stale schemas found by one query)"] = noop
    seconds, todo, _ = migrate_ours("--all-schemas")
    results.migrate[
        f"ours --all-schemas (every schema, {settings.TENANT_MULTIPROCESSING_MAX_PROCESSES} processes)"
    ] = Series([seconds])
    results.migrate["django-tenants stock command (every schema, one by one)"] = Series(
        [migrate_stock()]
    )

    if args.migration_step:
        log("a deploy with one new no-op migration")
        seconds, todo, total = migrate_ours(step=2)
        if (todo, total) != (top, top):
            raise RuntimeError(f"expected {top} of {top} schemas to migrate, got {todo} of {total}")
        recorded = schemas_with_migration("0002_noop")
        if recorded != (top, top):
            raise RuntimeError(f"0002_noop recorded in {recorded[0]} of {recorded[1]} schemas")
        results.migrate["one new migration: ours (template + stale schemas, in parallel)"] = Series(
            [seconds]
        )
        stock = migrate_stock(step=3)
        recorded = schemas_with_migration("0003_noop")
        if recorded != (top, top):
            raise RuntimeError(f"0003_noop recorded in {recorded[0]} of {recorded[1]} schemas")
        results.migrate["one new migration: django-tenants stock (one by one)"] = Series([stock])


# --- report ---------------------------------------------------------------------------------


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.1f}×" if denominator > 0 else "–"


def report(results: Results) -> str:
    lines = []
    machine = results.machine
    lines.append(
        f"Onboarding benchmark — {machine['cpus']} CPUs, Python {machine['python']}, "
        f"PostgreSQL {machine['postgresql']}, django-tenants {machine['django_tenants']}, "
        f"database {machine['database']}"
    )
    lines.append("")
    lines.append("Onboard one tenant (wall time of the whole call, seconds; median / max of n)")
    header = (
        f"{'tenants existing':>16} | {'ours: template clone':>22} | "
        f"{'baseline: CREATE SCHEMA + migrate':>34} | {'baseline / ours':>15}"
    )
    lines += [header, "-" * len(header)]
    for level in results.levels:
        ours = f"{level.ours.median:.3f} / {level.ours.max:.3f} (n={len(level.ours.samples)})"
        base = (
            f"{level.baseline.median:.3f} / {level.baseline.max:.3f} "
            f"(n={len(level.baseline.samples)})"
        )
        lines.append(
            f"{level.tenants:>16} | {ours:>22} | {base:>34} | "
            f"{ratio(level.baseline.median, level.ours.median):>15}"
        )
    top = results.levels[-1]
    verdict = "met" if top.ours.max < TARGET_SECONDS else "MISSED"
    lines.append(
        f"target: under {TARGET_SECONDS:.0f} s per new tenant at {top.tenants} tenants — {verdict} "
        f"(max {top.ours.max:.3f} s)"
    )
    lines.append(
        f"first onboarding in a process (also dumps the template once): "
        f"{results.cold_first_onboarding_s:.3f} s"
    )
    if results.fill:
        lines.append(
            f"filling to {top.tenants} tenants: {len(results.fill)} onboardings, "
            f"mean {statistics.mean(results.fill):.3f} s, max {max(results.fill):.3f} s"
        )
    lines.append("")
    lines.append(f"Where ours spends its time at {top.tenants} tenants (median, seconds)")
    for name, series in results.breakdown.items():
        lines.append(f"  {series.median:8.4f}  {name}")
    lines.append("")
    lines.append(
        f"manage.py migrate_schemas over {top.tenants} tenants (wall time of the process, seconds)"
    )
    for name, series in results.migrate.items():
        extra = f" (median of {len(series.samples)})" if len(series.samples) > 1 else ""
        lines.append(f"  {series.median:8.2f}  {name}{extra}")
    ours_noop = results.migrate.get("ours, nothing to do (stale schemas found by one query)")
    stock_noop = results.migrate.get("django-tenants stock command (every schema, one by one)")
    if ours_noop and stock_noop:
        lines.append(
            f"  nothing to do: stock / ours = {ratio(stock_noop.median, ours_noop.median)}"
        )
    ours_new = results.migrate.get(
        "one new migration: ours (template + stale schemas, in parallel)"
    )
    stock_new = results.migrate.get("one new migration: django-tenants stock (one by one)")
    if ours_new and stock_new:
        lines.append(
            f"  one new migration: stock / ours = {ratio(stock_new.median, ours_new.median)}"
        )
    lines += [f"note: {note}" for note in results.notes]
    return "\n".join(lines)


def to_json(results: Results) -> dict[str, Any]:
    return {
        "machine": results.machine,
        "parameters": results.parameters,
        "target_seconds_at_top_level": TARGET_SECONDS,
        "onboarding": [
            {
                "tenants_existing": level.tenants,
                "ours": level.ours.summary(),
                "baseline": level.baseline.summary(),
                "baseline_over_ours": round(level.baseline.median / level.ours.median, 2),
            }
            for level in results.levels
        ],
        "cold_first_onboarding_s": round(results.cold_first_onboarding_s, 4),
        "fill_s": [round(s, 4) for s in results.fill],
        "breakdown": {name: s.summary() for name, s in results.breakdown.items()},
        "migrate_schemas": {name: s.summary() for name, s in results.migrate.items()},
        "notes": results.notes,
    }


def machine_info(admin_url: str, database: str) -> dict[str, Any]:
    from importlib.metadata import version

    import psycopg

    with psycopg.connect(admin_url) as conn:
        server = conn.execute("SHOW server_version").fetchone()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "postgresql": server[0] if server else "?",
        "django": version("Django"),
        "django_tenants": version("django-tenants"),
        "platform": platform.platform(),
        "database": database,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--levels",
        type=lambda text: sorted({int(part) for part in text.split(",")}),
        default=[1, 50, 200],
        help="tenant counts to measure at (default 1,50,200)",
    )
    parser.add_argument("--samples", type=int, default=7, help="our onboardings per level")
    parser.add_argument(
        "--baseline-samples", type=int, default=3, help="baseline onboardings per level"
    )
    parser.add_argument(
        "--no-migration-step",
        dest="migration_step",
        action="store_false",
        help="skip the deploy-with-one-new-migration measurement",
    )
    parser.add_argument("--database", default="atrium_bench", help="the benchmark's database")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: levels 1,10, 3 + 2 samples"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.levels, args.samples, args.baseline_samples = [1, 10], 3, 2
    if min(args.levels) < 1 or args.samples < 1 or args.baseline_samples < 1:
        parser.error("levels and sample counts must be at least 1")
    if "bench" not in args.database:
        parser.error(
            "the benchmark database's name must contain 'bench' (it is dropped at the end)"
        )
    return args


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    admin_url = server_url()
    if database_of(admin_url) == args.database:
        sys.exit(f"DATABASE_URL already names {args.database}; point it at another database")
    bench_url = url_for_database(admin_url, args.database)
    results = Results(
        machine=machine_info(admin_url, args.database),
        parameters={
            "levels": args.levels,
            "samples": args.samples,
            "baseline_samples": args.baseline_samples,
            "migration_step": args.migration_step,
        },
    )
    log(f"creating database {args.database}")
    recreate_database(admin_url, args.database, create=True)
    os.environ.update(
        DATABASE_URL=bench_url,
        ATRIUM_BENCH_DATABASE=args.database,
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
    )
    started = time.perf_counter()
    try:
        run(args, results)
    finally:
        from django.apps import apps

        if apps.ready:
            from django.db import connections

            for conn in connections.all():
                conn.close()
                conn.close_pool()
        log(f"dropping database {args.database}")
        recreate_database(admin_url, args.database, create=False)
    results.parameters["run_seconds"] = round(time.perf_counter() - started, 1)
    text = report(results)
    print(text)
    print(f"total run time: {results.parameters['run_seconds']:.0f} s")
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(to_json(results), indent=2, ensure_ascii=False) + "\n")
    print(f"figures written to {RESULTS_FILE.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
