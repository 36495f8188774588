"""Sales throughput benchmark: POS sales recorded per second over HTTP, beside pgbench.

Run: `.venv/bin/python bench/sales.py` (`--quick` for a smoke run, `--help` for options).

In one run, on one machine and one PostgreSQL server, it measures:

- pgbench's built-in TPC-B-like transaction at 8 and 32 clients (`pgbench -i -s <scale>` in a
  scratch database of its own), the baseline;
- sales recorded per second, and p50/p99 latency, through `POST /api/integration/v1/sales` at 8
  and 32 concurrent clients, one sale per HMAC-signed call;
- the same through `POST /api/integration/v1/sales/batch` (N sales per call, each sale its own
  transaction), at a few concurrent clients;

and prints the ratios to pgbench at the same client count (targets: single calls at 32 clients
at least 25% of pgbench's TPS, the batch endpoint at least 100%).

The servers run the way production does (infra/compose.yaml), where nginx sends single sales to
the POS ingest and the rest to gunicorn: single calls go to the ingest (`atrium.ingest`,
uvicorn with uvloop and httptools, `--ingest-workers` processes, docs/adr/0022), batches to
gunicorn `atrium.wsgi` (gthread, `--workers` × `--threads`, 4 × 8, with max-requests recycling
and an access log to /dev/null); the same single calls at 32 clients also go to gunicorn, as a
level of their own (`single32-gunicorn`), for comparison.
It works in a database of its own (`atrium_bench_sales`, on the embedded PostgreSQL when
DATABASE_URL is unset, else on DATABASE_URL's server), created at the start and dropped at the
end, with `atrium.settings.bench`; the outbox relay's Celery messages go to a Redis database of
their own (14), emptied at the end. One tenant with `--merchants` merchants (each with its own
POS key) and `--members` members; a sale has two items and one or two payments (cash, card,
Alipay, WeChat, sometimes part coupon), and names its member by member number
(`--member-share` of sales; the others are anonymous). Every call is checked: a run with any
answer but 201 (single) or a fully `created` batch fails, and the sales table must hold exactly
the sales the clients saw recorded.

`--profile` samples the ingest's processes with py-spy (`uv pip install py-spy`) during the
single-call run at 32 clients and prints where their time goes.

Figures go to stdout and to bench/results/sales.json.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILE = REPO_ROOT / "bench" / "results" / "sales.json"
SETTINGS_MODULE = "atrium.settings.bench"
SLUG = "bench-sales"
HOST = f"{SLUG}.atrium.test"  # BASE_DOMAIN of the test settings the bench settings build on
SALES_PATH = "/api/integration/v1/sales"
BATCH_PATH = "/api/integration/v1/sales/batch"
BROKER_DB = 14
TARGET_SINGLE = 0.25
TARGET_BATCH = 1.00


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- databases and processes ------------------------------------------------------------------


def server_url() -> str:
    """DATABASE_URL (also from .env, as the settings read it), else the embedded server's URL."""
    env_file = REPO_ROOT / ".env"
    if env_file.exists():
        import environ

        environ.Env.read_env(str(env_file))
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    sys.path.insert(0, str(REPO_ROOT / "platform"))
    from atrium import embedded

    log(f"embedded PostgreSQL under {embedded.data_dir()}")
    return embedded.ensure_postgres()


def redis_url() -> str:
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    from atrium import embedded

    return embedded.ensure_redis()


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def recreate_database(admin_url: str, name: str, *, create: bool) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def libpq_env(url: str) -> dict[str, str]:
    """PG* variables for pgbench from a postgresql:// URL (a socket folder as the host too)."""
    parts = urlsplit(url)
    env = {**os.environ, "PGDATABASE": parts.path.lstrip("/")}
    host = parts.netloc.rpartition("@")[2]
    if parts.port is not None:
        host = host.rsplit(":", 1)[0]
        env["PGPORT"] = str(parts.port)
    if host:
        env["PGHOST"] = unquote(host).strip("[]")
    if parts.username:
        env["PGUSER"] = unquote(parts.username)
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    return env


def child_env(database_url: str, database: str, broker: str, settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        "ATRIUM_BENCH_DATABASE": database,
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ["REDIS_URL"],
        "CELERY_BROKER_URL": broker,
        "PYTHONUNBUFFERED": "1",
    }


def run(argv: list[str], env: dict[str, str], timeout: int = 1800) -> str:
    result = subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False, timeout=timeout
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise RuntimeError(f"`{' '.join(argv)[:100]}` exited with {result.returncode}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- pgbench, the baseline ---------------------------------------------------------------------


def pgbench_bin() -> str:
    from atrium import embedded

    for candidate in (
        Path(os.environ.get("PG_BIN_DIR", "")) / "pgbench",
        embedded.pg_bin_dir() / "pgbench",
    ):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("pgbench")
    if found is None:
        raise RuntimeError("pgbench not found (embedded PostgreSQL bundles it)")
    return found


def pgbench_tps(url: str, *, clients: int, seconds: int) -> float:
    """TPS of pgbench's TPC-B-like script (without the initial connection time)."""
    threads = min(clients, os.cpu_count() or 1)
    out = run(
        [pgbench_bin(), "-c", str(clients), "-j", str(threads), "-T", str(seconds)],
        libpq_env(url),
    )
    found = re.search(r"tps = ([\d.]+) \((without|excluding) initial connection", out)
    if found is None:
        raise RuntimeError(f"unexpected pgbench output: {out[-500:]!r}")
    return float(found.group(1))


# --- the tenant and its data --------------------------------------------------------------------


def setup_tenant(merchants: int, members: int) -> dict[str, Any]:
    """Onboard the bench mall (real onboarding), merchants with POS keys, members."""
    import django

    django.setup()
    from django_tenants.utils import tenant_context

    from apps.members.services import create_member
    from apps.merchants.services import create_api_key, create_merchant
    from atrium.tenancy import tenant_connection
    from tenants.services import onboard_tenant

    tenant = onboard_tenant(name="Bench Sales", slug=SLUG, operator_username="owner").tenant
    formats = ("retail", "fnb", "beauty", "kids")
    with tenant_context(tenant):
        keys = []
        for index in range(merchants):
            merchant = create_merchant(name=f"Shop {index}", business_format=formats[index % 4])
            issued = create_api_key(merchant=merchant)
            keys.append((issued.api_key.key_id, issued.secret))
        member_nos = [create_member(display_name=f"m{i}").member_no for i in range(members)]
    tenant_connection().set_schema_to_public()
    return {"schema": tenant.schema_name, "keys": keys, "member_nos": member_nos}


def table_count(schema: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{schema}".sales_sale')  # noqa: S608 - our schema
        return int(cursor.fetchone()[0])


# --- the load generator (its own process, asyncio, keep-alive connections) -------------------


@dataclass
class LoadConfig:
    name: str
    mode: str  # "single" | "batch"
    clients: int
    seconds: float
    warmup: float
    port: int
    keys: list[tuple[str, str]]
    member_nos: list[str]
    member_share: float
    batch_size: int = 1
    server: str = "gunicorn"  # which server the calls go to: "gunicorn" or "ingest"
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])


@dataclass
class LoadResult:
    name: str
    mode: str
    clients: int
    window_s: float
    calls: int
    sales: int
    sales_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    recorded_total: int  # every sale recorded during the run, warm-up included
    errors: dict[str, int]
    error_samples: list[str]
    load_average: float = 0.0  # of the machine (1 min) at the end of the level
    # Where the time went in the measured window (`Watch`): CPU ms per sale by process group,
    # the share of the CPUs left idle, backends of the benchmark database in and out of locks.
    cpu_ms_per_sale: dict[str, float] = field(default_factory=dict)
    idle_share: float = 0.0
    backends_active: float = 0.0
    backends_waiting_on_locks: float = 0.0
    sales_per_commit: float = 0.0  # sales recorded per committed transaction of the database


def _sale(config: LoadConfig, rng: random.Random, external_id: str) -> dict[str, Any]:
    cents = rng.randint(10_00, 2_000_00)
    first = rng.randint(1, cents - 1)
    total = f"{cents // 100}.{cents % 100:02d}"
    items = [
        {"sku": "SKU-1", "name": "item one", "category": "general", "quantity": 1,
         "amount": f"{first // 100}.{first % 100:02d}"},
        {"sku": "SKU-2", "name": "item two", "category": "general", "quantity": 2,
         "amount": f"{(cents - first) // 100}.{(cents - first) % 100:02d}"},
    ]  # fmt: skip
    method = rng.choice(("cash", "card", "alipay", "wechat"))
    if rng.random() < 0.2:
        coupon = min(1000, cents - 1)
        payments = [
            {"method": method, "amount": f"{(cents - coupon) // 100}.{(cents - coupon) % 100:02d}"},
            {"method": "coupon", "amount": f"{coupon // 100}.{coupon % 100:02d}"},
        ]
    else:
        payments = [{"method": method, "amount": total}]
    sale: dict[str, Any] = {
        "external_id": external_id,
        "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "total": total,
        "payments": payments,
        "items": items,
    }
    if rng.random() < config.member_share:
        sale["member"] = {"member_no": rng.choice(config.member_nos)}
    return sale


def _request(config: LoadConfig, client: int, number: int, rng: random.Random) -> tuple[bytes, int]:
    key_id, secret = config.keys[(client + number) % len(config.keys)]
    prefix = f"{config.run_id}-{client}-{number}"
    if config.mode == "single":
        path, body, count = SALES_PATH, _sale(config, rng, prefix), 1
    else:
        sales = [_sale(config, rng, f"{prefix}-{i}") for i in range(config.batch_size)]
        path, body, count = BATCH_PATH, {"sales": sales}, config.batch_size
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()))
    message = "\n".join(("POST", path, timestamp, hashlib.sha256(raw).hexdigest()))
    signature = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(raw)}\r\nX-Atrium-Key: {key_id}\r\n"
        f"X-Atrium-Timestamp: {timestamp}\r\nX-Atrium-Signature: {signature}\r\n\r\n"
    )
    return head.encode() + raw, count


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    headers = head.decode("latin-1").lower()
    found = re.search(r"\r\ncontent-length: *(\d+)", headers)
    body = await reader.readexactly(int(found.group(1))) if found else b""
    return status, body, "\r\nconnection: close" in headers


async def _client(config: LoadConfig, index: int, start: float, stats: dict[str, Any]) -> None:
    rng = random.Random(f"{config.run_id}-{index}")  # noqa: S311 - test data, not secrets
    measure_from, stop_at = start + config.warmup, start + config.warmup + config.seconds
    reader, writer = await asyncio.open_connection("127.0.0.1", config.port)
    number = 0
    while time.perf_counter() < stop_at:
        payload, count = _request(config, index, number, rng)
        number += 1
        sent = time.perf_counter()
        try:
            writer.write(payload)
            await writer.drain()
            status, body, closing = await _read_response(reader)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            stats["errors"][f"connection: {type(exc).__name__}"] += 1
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", config.port)
            continue
        done = time.perf_counter()
        recorded = 0
        if config.mode == "single" and status == 201:
            recorded = 1
        elif config.mode == "batch" and status == 200:
            answer = json.loads(body)
            recorded = answer["created"]
            if answer["failed"] or answer["replayed"]:
                stats["errors"]["batch items not created"] += answer["failed"] + answer["replayed"]
        if recorded != count:
            stats["errors"][f"HTTP {status}"] += 1
            if len(stats["samples"]) < 5:
                stats["samples"].append(body[:300].decode("utf-8", "replace"))
        stats["recorded_total"] += recorded
        if measure_from <= done <= stop_at:
            # Throughput: what completed inside the window; latency: calls wholly inside it.
            stats["sales"] += recorded
            if measure_from <= sent:
                stats["latencies"].append(done - sent)
                stats["calls"] += 1
        if closing:
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", config.port)
    writer.close()


async def _drive(config: LoadConfig) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "latencies": [], "calls": 0, "sales": 0, "recorded_total": 0,
        "errors": Counter(), "samples": [],
    }  # fmt: skip
    start = time.perf_counter()
    await asyncio.gather(*(_client(config, i, start, stats) for i in range(config.clients)))
    return stats


def load_process(config: LoadConfig, queue: Any) -> None:
    stats = asyncio.run(_drive(config))
    queue.put(stats)


def run_load(config: LoadConfig) -> LoadResult:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=load_process, args=(config, queue))
    process.start()
    stats = queue.get(timeout=config.warmup + config.seconds + 600)
    process.join()
    latencies = sorted(stats["latencies"]) or [0.0]

    def percentile(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return LoadResult(
        name=config.name,
        mode=config.mode,
        clients=config.clients,
        window_s=config.seconds,
        calls=stats["calls"],
        sales=stats["sales"],
        sales_per_s=stats["sales"] / config.seconds,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=percentile(0.99),
        max_ms=latencies[-1] * 1000,
        recorded_total=stats["recorded_total"],
        errors=dict(stats["errors"]),
        error_samples=stats["samples"],
    )


# --- where the time goes: CPU per process group and lock waits, over a level's window ----------


def _cpu_by_group(servers: dict[str, int]) -> tuple[dict[str, float], float]:
    """CPU seconds so far of this machine's processes by group (each server with its workers:
    `servers` maps a group's name to the server's pid), and the machine's idle seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    groups: Counter[str] = Counter()
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        pid, parent = int(entry), int(fields[1])
        served = [group for group, server in servers.items() if server in (pid, parent)]
        if name == "postgres":
            group = "postgres"
        elif served:
            group = served[0]
        elif parent == me:
            group = "load generator"
        elif name.startswith("redis"):
            group = "redis"
        else:
            group = "other"
        groups[group] += (int(fields[11]) + int(fields[12])) / ticks
    with open("/proc/stat") as handle:
        total = [int(x) for x in handle.readline().split()[1:]]
    return dict(groups), (total[3] + total[4]) / ticks  # idle + iowait


class Watch(threading.Thread):
    """Over a level's measured window: CPU by process group (`/proc`, processes on this machine
    only), the benchmark database's backends, sampled every 50 ms from `pg_stat_activity`
    (active ones, and those waiting on a lock: row locks of other writes, advisory locks), and
    its committed transactions (`pg_stat_database`, less the watch's own), which tell how many
    sales a transaction held: the group commit's groups, or a batch's transactions."""

    def __init__(
        self, servers: dict[str, int], database_url: str, database: str, config: LoadConfig
    ):
        super().__init__(daemon=True)
        self.servers, self.url, self.database, self.config = (
            servers, database_url, database, config,
        )  # fmt: skip
        self.cpu: dict[str, float] = {}
        self.idle_share = 0.0
        self.active = self.waiting = 0.0
        self.commits = 0

    def _commits(self, conn: Any) -> int:
        return int(
            conn.execute(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (self.database,)
            ).fetchone()[0]
        )

    def run(self) -> None:
        import psycopg

        time.sleep(self.config.warmup)
        before, idle_before = _cpu_by_group(self.servers)
        started = time.monotonic()
        samples = active = waiting = 0
        with psycopg.connect(self.url, autocommit=True) as conn:
            commits_before = self._commits(conn)
            while time.monotonic() - started < self.config.seconds:
                rows = conn.execute(
                    "SELECT state, wait_event_type FROM pg_stat_activity "
                    "WHERE datname = %s AND backend_type = 'client backend' "
                    "AND pid <> pg_backend_pid()",
                    (self.database,),
                ).fetchall()
                samples += 1
                active += sum(1 for state, _ in rows if state == "active")
                waiting += sum(1 for _, wait in rows if wait == "Lock")
                time.sleep(0.05)
            # Each of the watch's statements is a transaction of its own: the first read and
            # every sample. Backends publish their counts about once a second, so the figure is
            # good to a few percent over a window of several seconds.
            self.commits = max(self._commits(conn) - commits_before - samples - 1, 0)
        elapsed = time.monotonic() - started
        after, idle_after = _cpu_by_group(self.servers)
        self.cpu = {group: after[group] - before.get(group, 0.0) for group in after}
        self.idle_share = (idle_after - idle_before) / (elapsed * (os.cpu_count() or 1))
        self.active, self.waiting = active / max(samples, 1), waiting / max(samples, 1)

    def apply(self, result: LoadResult) -> None:
        sales = max(result.sales, 1)
        result.cpu_ms_per_sale = {
            group: round(seconds * 1000 / sales, 3)
            for group, seconds in sorted(self.cpu.items())
            if seconds > 0
        }
        result.idle_share = round(self.idle_share, 3)
        result.backends_active = round(self.active, 2)
        result.backends_waiting_on_locks = round(self.waiting, 2)
        result.sales_per_commit = round(result.sales / self.commits, 1) if self.commits else 0.0


# --- the servers: gunicorn and the POS ingest -----------------------------------------------------


def start_server(
    env: dict[str, str], port: int, workers: int, threads: int
) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable, "-m", "gunicorn", "atrium.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--no-control-socket",
        "--worker-class", "gthread", "--workers", str(workers), "--threads", str(threads),
        "--max-requests", "20000", "--max-requests-jitter", "2000",
        "--graceful-timeout", "30", "--timeout", "120",
        "--access-logfile", os.devnull,
    ]  # fmt: skip
    return _started(argv, env, port, "gunicorn")


def start_ingest(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    """The POS ingest as infra/compose.yaml runs it (docs/adr/0022)."""
    argv = [
        sys.executable, "-m", "uvicorn", "atrium.ingest:application",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--http", "httptools", "--lifespan", "on", "--no-access-log",
    ]  # fmt: skip
    return _started(argv, env, port, "the ingest")


def _started(argv: list[str], env: dict[str, str], port: int, name: str) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(
                    f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
                )
                if conn.recv(12).endswith(b"200"):
                    return server
        except OSError:
            pass
        if server.poll() is not None:
            raise RuntimeError(f"{name} exited at start")
        time.sleep(0.3)
    raise RuntimeError(f"{name} did not answer /healthz within 60 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def worker_pids(server: subprocess.Popen[bytes]) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(server.pid)], capture_output=True, text=True, check=False
    ).stdout
    return [int(pid) for pid in out.split()]


# --- profiling with py-spy ---------------------------------------------------------------------


def start_profiles(pids: list[int], seconds: float, folder: Path) -> list[subprocess.Popen[bytes]]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        log("py-spy is not installed (uv pip install py-spy): no profile")
        return []
    return [
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(int(seconds)),
                "--rate",
                "200",
                "--gil",
                "--format",
                "raw",
                "--output",
                str(folder / f"{pid}.txt"),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in pids
    ]


PROFILE_GROUPS = (
    # (label, function, file): inclusive share of the samples whose stack holds that frame.
    ("the writers, all of it (Writers._run)", "_run", "sales/ingest.py"),
    ("  Django requests of the calls (request_of)", "request_of", "sales/ingest.py"),
    ("  tenant, middleware hooks, body (_prepare)", "_prepare", "sales/ingest.py"),
    ("  signatures (accept_signed_requests)", "accept_signed_requests", "merchants/services.py"),
    ("  the sale writer (write_group), all of it", "write_group", "group_commit.py"),
    ("    clean and hash each sale (_prepare)", "_prepare", "sales/services/sales.py"),
    ("    pipelined round trips (locks, replay check, members, accounts)", "run_statements",
     "atrium/sql.py"),
    ("    awards (plan_awards: quotes, ledger rows)", "plan_awards", "sale_awards.py"),
    ("    split lines (plan_sales_split)", "plan_sales_split", "services/split.py"),
    ("    events (publish_many_statement)", "publish_many_statement", "atrium/events.py"),
    ("    the one write statement (write_together)", "write_together", "atrium/sql.py"),
    ("    COMMIT", "commit", "django/db/backends/base/base.py"),
    ("    after commit: relay flag / enqueue (enqueue_relay)", "enqueue_relay",
     "atrium/outbox.py"),
    ("  answers: renderer, middleware hooks (_response)", "_response", "sales/ingest.py"),
    ("the event loop: HTTP, reading and answering (PosIngest)", "__call__", "sales/ingest.py"),
    ("django-tenants SET search_path before each query", "_handle_search_path", "django_tenants"),
    ("waiting on PostgreSQL (psycopg)", "wait", "psycopg/connection.py"),
    ("Django ORM SQL compilation", "as_sql", "django/db/models/sql/compiler.py"),
    ("Redis (cache, broker)", "send_packed_command", "redis/connection.py"),
)  # fmt: skip


def _frame_matches(frame: str, function: str, file: str) -> bool:
    # py-spy frames read "Class.function (path/file.py:line)".
    name, _, where = frame.partition(" (")
    return (name == function or name.endswith(f".{function}")) and file in where


def summarize_profiles(folder: Path) -> dict[str, Any]:
    """Share of the samples inside each group, and the hottest frames. Sampled with --gil:
    only the thread holding the GIL, i.e. the ingest's Python CPU time (an idle writer or event
    loop waits without it)."""
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    total = 0
    for path in folder.glob("*.txt"):
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            frames = stack.split(";")
            count = int(count_text)
            total += count
            for frame in set(frames):
                inclusive[frame] += count
            leaf[frames[-1]] += count
            for label, function, file in PROFILE_GROUPS:
                if any(_frame_matches(frame, function, file) for frame in frames):
                    groups[label] += count
    if not total:
        return {}
    return {
        "samples": total,
        "groups": {label: round(groups[label] / total * 100, 1) for label, *_ in PROFILE_GROUPS},
        "hottest_self": [(frame, round(n / total * 100, 1)) for frame, n in leaf.most_common(15)],
    }


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Results:
    machine: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    pgbench_runs: list[tuple[int, float, float]] = field(default_factory=list)

    def pgbench_tps(self, clients: int) -> float:
        """Mean TPS of pgbench's runs at this many clients in this run."""
        runs = [tps for count, tps, _ in self.pgbench_runs if count == clients]
        return statistics.mean(runs) if runs else 0.0

    loads: list[LoadResult] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def bench(args: argparse.Namespace, results: Results) -> None:
    admin_url = server_url()
    os.environ["REDIS_URL"] = redis_url()
    broker = re.sub(r"/\d*$", "", os.environ["REDIS_URL"].rstrip("/")) + f"/{BROKER_DB}"
    database_url = with_database(admin_url, args.database)
    pgbench_url = with_database(admin_url, args.pgbench_database)
    env = child_env(database_url, args.database, broker, args.settings)
    for name in ("DJANGO_SETTINGS_MODULE", "ATRIUM_BENCH_DATABASE", "DATABASE_URL"):
        os.environ[name] = env[name]
    os.environ["CELERY_BROKER_URL"] = broker
    server = ingest = None
    try:
        recreate_database(admin_url, args.database, create=True)
        recreate_database(admin_url, args.pgbench_database, create=True)
        log("migrating the benchmark database (public + template)")
        run([sys.executable, "manage.py", "migrate_schemas", "--noinput", "-v", "0"], env)
        log(f"onboarding {SLUG}: {args.merchants} merchants, {args.members} members")
        data = setup_tenant(args.merchants, args.members)
        results.machine = machine_facts()

        log(f"pgbench: initialising scale {args.scale}")
        run([pgbench_bin(), "-i", "-q", "-s", str(args.scale)], libpq_env(pgbench_url))

        def baseline(clients: int) -> None:
            tps = pgbench_tps(pgbench_url, clients=clients, seconds=int(args.seconds))
            results.pgbench_runs.append((clients, tps, os.getloadavg()[0]))
            log(f"pgbench at {clients} clients: {tps:.0f} TPS")

        port, ingest_port = free_port(), free_port()
        server = start_server(env, port, args.workers, args.threads)
        log(f"gunicorn on :{port}, {args.workers} workers × {args.threads} threads")
        ingest = start_ingest(env, ingest_port, args.ingest_workers)
        log(f"the POS ingest on :{ingest_port}, {args.ingest_workers} processes")
        servers = {"gunicorn": server.pid, "ingest": ingest.pid}
        common = {
            "port": port, "keys": data["keys"], "member_nos": data["member_nos"],
            "member_share": args.member_share, "seconds": args.seconds, "warmup": args.warmup,
        }  # fmt: skip
        # Single calls go where production's nginx sends them, the ingest; the same calls
        # through gunicorn are measured beside them. Batches go to gunicorn.
        at_ingest = {**common, "port": ingest_port, "server": "ingest"}
        levels = [
            LoadConfig(name="single, 8 clients", mode="single", clients=8, **at_ingest),
            LoadConfig(name="single, 32 clients", mode="single", clients=32, **at_ingest),
            LoadConfig(name="single, 32 clients, gunicorn", mode="single", clients=32, **common),
            LoadConfig(
                name=f"batch of {args.batch_size}, {args.batch_clients} clients",
                mode="batch",
                clients=args.batch_clients,
                batch_size=args.batch_size,
                **common,
            ),
        ]
        levels = [c for c in levels if _level_key(c) in args.only]
        recorded = 0
        for config in levels:
            # The baseline runs right before each HTTP level at the same client count (the batch
            # is compared with 32 clients), so both see the same machine.
            baseline(8 if config.clients == 8 and config.mode == "single" else 32)
            profiling: list[subprocess.Popen[bytes]] = []
            folder = Path(tempfile.mkdtemp(prefix="sales-profile-"))
            if args.profile and config.clients == 32 and config.server == "ingest":
                profiling = start_profiles(
                    worker_pids(ingest), config.warmup + config.seconds, folder
                )
            watch = Watch(servers, database_url, args.database, config)
            watch.start()
            result = run_load(config)
            result.load_average = os.getloadavg()[0]
            watch.join(timeout=30)
            watch.apply(result)
            for spy in profiling:
                spy.wait(timeout=120)
            if profiling:
                results.profile = summarize_profiles(folder)
            if args.keep and profiling:
                log(f"py-spy stacks kept in {folder}")
            else:
                shutil.rmtree(folder, ignore_errors=True)
            results.loads.append(result)
            recorded += result.recorded_total
            log(
                f"{config.name}: {result.sales_per_s:.0f} sales/s, p50 {result.p50_ms:.0f} ms, "
                f"p99 {result.p99_ms:.0f} ms, errors {result.errors or 'none'}"
            )
            if result.errors:
                raise RuntimeError(f"{config.name}: errors {result.errors}: {result.error_samples}")
        baseline(32)
        in_table = table_count(data["schema"])
        if in_table != recorded:
            raise RuntimeError(f"clients saw {recorded} sales recorded, the table holds {in_table}")
        results.notes.append(
            f"sales table holds {in_table} rows = every sale the clients saw recorded"
        )
    finally:
        for started in (server, ingest):
            if started is not None:
                stop_server(started)
        if not args.keep:
            from django.db import connections

            connections.close_all()
            recreate_database(admin_url, args.database, create=False)
            recreate_database(admin_url, args.pgbench_database, create=False)
            _flush_broker(broker)


LEVELS = ("single8", "single32", "single32-gunicorn", "batch")


def _levels(text: str) -> list[str]:
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(LEVELS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"levels are some of {','.join(LEVELS)}, not {text!r}")
    return chosen


def _level_key(config: LoadConfig) -> str:
    if config.mode == "batch":
        return "batch"
    return f"single{config.clients}" + ("-gunicorn" if config.server == "gunicorn" else "")


def _flush_broker(broker: str) -> None:
    import redis

    redis.Redis.from_url(broker).flushdb()


def machine_facts() -> dict[str, Any]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "postgresql": version,
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
    }


def report(results: Results) -> str:
    machine = results.machine
    parameters = results.parameters
    lines = [
        f"Sales benchmark — {machine.get('cpus')} CPUs, Python {machine.get('python')}, "
        f"PostgreSQL {machine.get('postgresql')}; gunicorn gthread "
        f"{parameters['workers']} × {parameters['threads']}; "
        f"POS ingest {parameters['ingest_workers']} processes; "
        f"{parameters['member_share']:.0%} member sales; settings {parameters['settings']}",
        "",
        f"{'':34} {'per s':>7} {'p50 ms':>8} {'p99 ms':>8} {'calls':>7} {'load':>5}   vs pgbench",
    ]
    for clients, tps, load_average in results.pgbench_runs:
        name = f"pgbench TPC-B-like, {clients} clients"
        lines.append(f"{name:34} {tps:7.0f} {'':>8} {'':>8} {'':>7} {load_average:5.1f}")
    for load in results.loads:
        clients = 8 if load.mode == "single" and load.clients == 8 else 32
        base = results.pgbench_tps(clients)
        versus = (
            f"{load.sales_per_s / base:6.1%} of {base:.0f} TPS ({clients} clients)" if base else ""
        )
        lines.append(
            f"{load.name:34} {load.sales_per_s:7.0f} {load.p50_ms:8.1f} {load.p99_ms:8.1f} "
            f"{load.calls:7d} {load.load_average:5.1f}   {versus}"
        )
    base = results.pgbench_tps(32)
    for mode, target, label in (
        ("single", TARGET_SINGLE, "single calls at 32 clients"),
        ("batch", TARGET_BATCH, "batch"),
    ):
        level = next(
            (
                x
                for x in results.loads
                if x.mode == mode and x.clients != 8 and not x.name.endswith("gunicorn")
            ),
            None,
        )
        if level and base:
            share = level.sales_per_s / base
            verdict = "met" if share >= target else "MISSED"
            lines.append(
                f"target: {label} ≥ {target:.0%} of pgbench (32 clients) — {verdict} ({share:.1%})"
            )
    if results.profile:
        lines += [
            "",
            f"Where the ingest's CPU goes at 32 clients (py-spy --gil, {results.profile['samples']} "
            "samples of its processes' Python; inclusive %, groups overlap)",
        ]
        lines += [f"  {share:5.1f}%  {label}" for label, share in results.profile["groups"].items()]
        lines.append("  hottest frames (self %):")
        lines += [
            f"  {share:5.1f}%  {frame[:110]}" for frame, share in results.profile["hottest_self"]
        ]
    lines += [
        "",
        "Where the time went in each level's window (CPU ms per sale by process group on this "
        "machine; idle CPU; backends of the benchmark database: active, waiting on a lock; sales "
        "per committed transaction)",
    ]
    for load in results.loads:
        cpu = ", ".join(f"{group} {ms:.2f}" for group, ms in load.cpu_ms_per_sale.items())
        lines.append(
            f"  {load.name}: {cpu}; idle {load.idle_share:.0%}; backends active "
            f"{load.backends_active:.1f}, waiting on locks {load.backends_waiting_on_locks:.1f}; "
            f"{load.sales_per_commit:.1f} sales per transaction"
        )
    lines += [f"note: {note}" for note in results.notes]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds per level")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn process")
    parser.add_argument("--ingest-workers", type=int, default=2, help="POS ingest processes")
    parser.add_argument("--merchants", type=int, default=20)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--member-share", type=float, default=0.7, help="share of member sales")
    parser.add_argument("--batch-size", type=int, default=100, help="sales per batch call (≤ 500)")
    parser.add_argument("--batch-clients", type=int, default=4)
    parser.add_argument("--scale", type=int, default=32, help="pgbench scale factor")
    parser.add_argument(
        "--settings", default=SETTINGS_MODULE, help="Django settings of the server (bench settings)"
    )
    parser.add_argument("--database", default="atrium_bench_sales")
    parser.add_argument("--pgbench-database", default="atrium_bench_pgbench")
    parser.add_argument(
        "--only",
        type=_levels,
        default=",".join(LEVELS),
        help=f"the levels to run, of {','.join(LEVELS)} (the pgbench baseline runs for each)",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the ingest's 32-client run")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 s levels, scale 8")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup, args.scale, args.members = 8.0, 3.0, 8, 200
    sys.path.insert(0, str(REPO_ROOT / "platform"))
    results = Results(parameters=dict(vars(args)))
    bench(args, results)
    print(report(results))
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(
        json.dumps(
            {
                "machine": results.machine,
                "parameters": results.parameters,
                "pgbench_runs": [
                    {"clients": c, "tps": tps, "load_average": load}
                    for c, tps, load in results.pgbench_runs
                ],
                "loads": [asdict(load) for load in results.loads],
                "profile": results.profile,
                "notes": results.notes,
            },
            indent=2,
            default=str,
        )
    )
    log(f"figures written to {RESULTS_FILE.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
