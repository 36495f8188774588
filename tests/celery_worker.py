"""Session fixtures for background work: a real Celery worker, a fake Sentry, committed tenants.

The worker is another process, so what it reads must be committed: tests that use it work in
tenants onboarded by `make_committed_tenant` (dropped afterwards) under
`django_db_blocker.unblock()`, never in the rolled-back `db` transaction. It runs with the test
settings against the test database, with Sentry pointed at `fake_sentry`; its log lines (JSON)
go to a file that tests can read.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.cache import cache
from django.db import connection
from django_tenants.utils import tenant_context

from atrium.celery import app as celery_app
from tenants.models import Tenant
from tenants.services import onboard_tenant

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "correct-horse-battery-7"


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll until `predicate()` is truthy and return it; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)


# --- the test database, always ------------------------------------------------------------------


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_keepdb: bool,
    django_db_createdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """pytest-django's `django_db_setup`, but the test database is built for every session.

    pytest-django builds it only when a collected test asks for `db`; a run of tests that work
    on committed tenants alone (`two_malls`, `committed_tenant`, the worker) would otherwise
    write to the development database.
    """
    from django.test.utils import setup_databases, teardown_databases

    keepdb = django_db_keepdb and not django_db_createdb
    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=verbosity,
            interactive=False,
            aliases={"default"},
            serialized_aliases=set(),
            keepdb=keepdb,
        )
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            teardown_databases(config, verbosity=verbosity)


# --- a fake Sentry: records the envelopes the SDK posts -------------------------------------------


@dataclass
class FakeSentry:
    port: int
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.port}/1"

    def wait_for_event(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        return wait_until(lambda: next((e for e in list(self.events) if predicate(e)), None))


def _decode_body(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "br":
        import brotli  # the SDK only picks br when brotli is installed

        return brotli.decompress(body)
    return body


def _events_of(envelope: bytes) -> list[dict[str, Any]]:
    """The `event` items of a Sentry envelope (header line, then item header + payload pairs)."""
    lines = envelope.split(b"\n")
    events, index = [], 1
    while index < len(lines) - 1:
        if not lines[index].strip():
            index += 1
            continue
        header = json.loads(lines[index])
        payload = lines[index + 1]
        index += 2
        if header.get("type") == "event":
            events.append(json.loads(payload))
    return events


@pytest.fixture(scope="session")
def fake_sentry() -> Iterator[FakeSentry]:
    sentry = FakeSentry(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = _decode_body(body, self.headers.get("Content-Encoding", ""))
            sentry.events.extend(_events_of(body))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sentry.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield sentry
    server.shutdown()
    server.server_close()


# --- the Celery worker --------------------------------------------------------------------------


@dataclass
class RunningWorker:
    process: subprocess.Popen[bytes]
    nodename: str
    log_path: Path
    env: dict[str, str]

    def log_lines(self) -> list[dict[str, Any]]:
        """The worker's JSON log lines so far (Celery's start-up banner is not JSON)."""
        text = self.log_path.read_text(errors="replace")
        return [json.loads(raw) for raw in text.splitlines() if raw.startswith("{")]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_idle(self) -> None:
        """Wait until the worker runs, holds and schedules no task (tests that enqueue work they
        do not wait for call this, so that the work cannot spill into the next test)."""
        inspect = celery_app.control.inspect(destination=[self.nodename], timeout=1)

        def idle() -> bool:
            return all(
                not any((getattr(inspect, kind)() or {}).values())
                for kind in ("active", "reserved", "scheduled")
            )

        wait_until(idle)


def database_url_for(name: str) -> str:
    """DATABASE_URL with the database name replaced (the worker must use the test database)."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


def worker_environment(fake_sentry: FakeSentry) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "atrium.settings.test",
        "DATABASE_URL": database_url_for(connection.settings_dict["NAME"]),
        "REDIS_URL": os.environ["REDIS_URL"],
        "SENTRY_DSN": fake_sentry.dsn,
        "SENTRY_ENVIRONMENT": "test",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup: None,
    django_db_blocker: Any,
    fake_sentry: FakeSentry,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningWorker]:
    """`celery -A atrium worker --pool=threads -c 2` on the test database, for the session."""
    env = worker_environment(fake_sentry)
    name = f"atrium-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{uuid.uuid4().hex[:6]}"
    nodename = f"{name}@{socket.gethostname()}"
    celery_app.control.purge()  # relays enqueued by earlier tests, for tenants long dropped
    # Their "a relay is queued" flags (atrium.outbox.enqueue_relay) go too: a flag left for a
    # purged relay would skip the next commit's relay for up to RELAY_QUEUED_SECONDS.
    redis = cache._cache.get_client(write=True)  # the raw client: the keys carry a schema
    for key in redis.scan_iter(match="*outbox-relay-queued:*"):
        redis.delete(key)
    log_path = tmp_path_factory.mktemp("celery") / "worker.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "atrium", "worker", "--pool=threads",
             "--concurrency=2", f"--hostname={nodename}", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "--loglevel=WARNING"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    worker = RunningWorker(process=process, nodename=nodename, log_path=log_path, env=env)
    try:
        deadline = time.monotonic() + 60
        while not celery_app.control.ping(destination=[nodename], timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not start:\n{worker.log_text()}")
        yield worker
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- committed tenants --------------------------------------------------------------------------


@contextlib.contextmanager
def _committed_tenants(django_db_blocker: Any) -> Iterator[Callable[[], Tenant]]:
    made: list[Tenant] = []

    def make() -> Tenant:
        slug = f"tmp-{uuid.uuid4().hex[:8]}"
        with django_db_blocker.unblock():
            tenant = onboard_tenant(
                name=f"Committed {slug}",
                slug=slug,
                operator_username="owner",
                operator_password=PASSWORD,
            ).tenant
        connection.set_schema_to_public()
        made.append(tenant)
        return tenant

    try:
        yield make
    finally:
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            for tenant in made:
                with connection.cursor() as cursor:
                    cursor.execute(f'DROP SCHEMA IF EXISTS "{tenant.schema_name}" CASCADE')
                tenant.domains.all().delete()
                Tenant.objects.filter(pk=tenant.pk).delete()


@pytest.fixture
def make_committed_tenant(
    two_malls: dict[str, Tenant], django_db_blocker: Any
) -> Iterator[Callable[[], Tenant]]:
    """Onboard committed throwaway tenants (other processes see them); dropped after the test."""
    with _committed_tenants(django_db_blocker) as make:
        yield make


@pytest.fixture(scope="module")
def module_committed_tenants(
    two_malls: dict[str, Tenant], django_db_blocker: Any
) -> Iterator[Callable[[], Tenant]]:
    """The same, dropped after the test module (onboarding costs about a second a tenant)."""
    with _committed_tenants(django_db_blocker) as make:
        yield make


def in_tenant(tenant: Tenant, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `func` inside the tenant's schema, then return to public."""
    try:
        with tenant_context(tenant):
            return func(*args, **kwargs)
    finally:
        connection.set_schema_to_public()
