"""Browser tests: a real server on the test database, Debian's Chromium driven by Playwright.

The server is uvicorn serving `atrium.asgi` for everything, pages and `/ws/` websockets on one
port (production splits them: gunicorn for HTTP, the ASGI server for `/ws/` behind nginx; one
port here keeps the pages' websocket URL the page's own host, as nginx makes it in production).
A real Celery worker (`celery_worker`) relays outbox events, so points pushed to a member's
socket travel the production path. The server texts through the `file` SMS backend into a
temporary folder (`e2e_server.sms_dir`), where tests read login codes.

The server runs with the test settings against the test database (`test_<name>`), so everything
it needs is committed here (`django_db_blocker.unblock()`) and removed again afterwards. Hosts
stay on the test domain (`atrium.test`, `<slug>.atrium.test`): Chromium maps them to the
loopback with `--host-resolver-rules`. Playwright's own browser download is never used.

Everything here is package-scoped: Playwright's sync API keeps an asyncio loop running in the
main thread while it is open, which would break later tests that run their own loop, so the
browser (and the server) go away when the last browser test is done.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.services import invite_staff
from apps.merchants.services import create_api_key, create_merchant
from tenants.models import Tenant
from tenants.services import onboard_tenant, update_tenant
from tests.conftest import BASE, PASSWORD

ROOT = Path(settings.BASE_DIR)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--host-resolver-rules=MAP *.{BASE} 127.0.0.1, MAP {BASE} 127.0.0.1",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SERVER_START_SECONDS = 60

LOGO_SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96">
<rect width="96" height="96" rx="22" fill="#0E7C86"/>
<path d="M20 72V44a28 28 0 0 1 56 0v28" fill="none" stroke="#fff" stroke-width="7"/>
<path d="M36 72V50a12 12 0 0 1 24 0v22" fill="none" stroke="#F5C451" stroke-width="7"/>
<circle cx="48" cy="26" r="5" fill="#F5C451"/></svg>"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    port: int
    sms_dir: Path

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def provider(self, path: str = "/") -> str:
        return self.url(BASE, path)

    def tenant(self, slug: str, path: str = "/") -> str:
        return self.url(f"{slug}.{BASE}", path)


def _database_url() -> str:
    """DATABASE_URL pointing at the test database pytest-django created."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def _wait_until_up(server: LiveServer, process: subprocess.Popen[bytes], log: Path) -> None:
    # urllib does not know Chromium's host mapping: connect to the loopback and send the host.
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/healthz", headers={"Host": f"{BASE}:{server.port}"}
    )
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, OSError),
            urllib.request.urlopen(request, timeout=2) as response,  # noqa: S310 - loopback
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"the e2e server did not start; its log:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="package")
def e2e_server(
    django_db_setup: None,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
    celery_worker: Any,
) -> Iterator[LiveServer]:
    """uvicorn (pages and websockets) on a free loopback port, on the test database, with
    compiled translations, the Celery worker running and SMS written to a folder."""
    with django_db_blocker.unblock():
        call_command("compile_translations", verbosity=0)
        database_url = _database_url()
    server = LiveServer(port=_free_port(), sms_dir=tmp_path_factory.mktemp("e2e-sms"))
    log = tmp_path_factory.mktemp("e2e-server") / "server.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "atrium.settings.test",
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ["REDIS_URL"],
        "BASE_DOMAIN": BASE,
        "PUBLIC_PORT": str(server.port),
        "PYTHONUNBUFFERED": "1",
        "TEST_SMS_BACKEND": "file",
        "SMS_FILE_DIR": str(server.sms_dir),
    }
    command = [
        sys.executable, "-m", "uvicorn", "atrium.asgi:application",
        "--host", "127.0.0.1", "--port", str(server.port), "--workers", "1",
        "--lifespan", "off", "--no-access-log", "--timeout-graceful-shutdown", "3",
    ]  # fmt: skip
    with log.open("wb") as output:
        # Its own process group, so that its worker goes too if the master must be killed.
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=output, start_new_session=True
        )
    try:
        _wait_until_up(server, process, log)
        yield server
    finally:
        # SIGTERM: uvicorn closes its sockets and stops (open websockets wait at most 3 s);
        # it must be gone before pytest-django drops the test database.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@pytest.fixture(scope="package")
def logo_url() -> Iterator[str]:
    """A tenant logo served from the loopback, as a CDN would serve it."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/svg+xml")
            self.send_header("Content-Length", str(len(LOGO_SVG)))
            self.end_headers()
            self.wfile.write(LOGO_SVG)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/logo.svg"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="package")
def chromium(e2e_server: LiveServer) -> Iterator[Any]:
    """Debian's Chromium, headless; a clear failure (never a skip) when it is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: browser tests need Debian's Chromium and CJK fonts "
            "(apt-get install chromium fonts-noto-cjk; `make test` installs them as root)"
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
    # around the browser (seeding, clean-up) are plain synchronous code, so allow them.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _context(chromium: Any, viewport: dict[str, int]) -> Any:
    context = chromium.new_context(
        viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai", device_scale_factor=1
    )
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def desktop(chromium: Any) -> Iterator[Any]:
    """A fresh desktop browser context (its own cookies), Chinese like a browser in China."""
    context = _context(chromium, DESKTOP)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    """A fresh phone-sized browser context for the mobile-first surfaces."""
    context = _context(chromium, PHONE)
    try:
        yield context
    finally:
        context.close()


def _release_connection() -> None:
    """Give this context's connection back to the pool, so that the test database can be
    dropped at the end (Playwright's greenlets give the ORM a connection of their own)."""
    connection.close()


def drop_tenant(slug: str) -> None:
    """Remove a tenant the tests committed: its schema, exports, domains and row."""
    connection.set_schema_to_public()
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        return
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{tenant.schema_name}" CASCADE')
    tenant.exports.all().delete()
    tenant.domains.all().delete()
    Tenant.objects.filter(pk=tenant.pk).delete()


@dataclass(frozen=True)
class ProviderAdmin:
    username: str
    password: str


@pytest.fixture(scope="package")
def e2e_provider_admin(django_db_setup: None, django_db_blocker: Any) -> Iterator[ProviderAdmin]:
    """A committed provider admin (a Django staff user)."""
    username = f"e2e-admin-{uuid.uuid4().hex[:6]}"
    with django_db_blocker.unblock():
        get_user_model().objects.create_superuser(username, f"{username}@example.invalid", PASSWORD)
    try:
        yield ProviderAdmin(username, PASSWORD)
    finally:
        with django_db_blocker.unblock():
            get_user_model().objects.filter(username=username).delete()
            _release_connection()


@dataclass(frozen=True)
class SeededMall:
    slug: str
    name: str
    display_name: str
    color: str
    logo_url: str
    merchant_name: str
    cashier: str
    password: str


@pytest.fixture(scope="package")
def seeded_mall(
    django_db_setup: None, django_db_blocker: Any, logo_url: str
) -> Iterator[SeededMall]:
    """A committed mall with branding, a merchant with a POS key and a cashier."""
    mall = SeededMall(
        slug=f"e2e-{uuid.uuid4().hex[:6]}",
        name="星河广场 Galaxy Plaza",
        display_name="星河广场",
        color="#0E7C86",
        logo_url=logo_url,
        merchant_name="星巴克 Starbucks",
        cashier="cashier-e2e",
        password=PASSWORD,
    )
    with django_db_blocker.unblock():
        tenant = onboard_tenant(
            name=mall.name,
            slug=mall.slug,
            display_name=mall.display_name,
            primary_color=mall.color,
            operator_username="owner",
            operator_password=PASSWORD,
        ).tenant
        update_tenant(tenant=tenant, logo_url=mall.logo_url)
        with tenant_context(tenant):
            merchant = create_merchant(name=mall.merchant_name, business_format="fnb", unit="L1-05")
            create_api_key(merchant=merchant, name="1 号收银台")
            invite_staff(
                username=mall.cashier,
                display_name="收银员小周",
                role=StaffRole.MERCHANT_CASHIER,
                merchant=merchant,
                password=PASSWORD,
            )
            invite_staff(
                username="marketing", display_name="市场部小林", role=StaffRole.MARKETING,
                password=PASSWORD,
            )  # fmt: skip
        connection.set_schema_to_public()
    try:
        yield mall
    finally:
        with django_db_blocker.unblock():
            drop_tenant(mall.slug)
            _release_connection()


@pytest.fixture
def forget_tenant(django_db_blocker: Any) -> Iterator[list[str]]:
    """Slugs appended here are dropped after the test (tenants the browser created)."""
    slugs: list[str] = []
    yield slugs
    with django_db_blocker.unblock():
        for slug in slugs:
            drop_tenant(slug)
        _release_connection()


def shoot(page: Any, name: str) -> Path:
    """A full-page screenshot into tests/e2e/screenshots/ (git-ignored)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def shoot_both_languages(page: Any, name: str) -> None:
    """Screenshot the page in Chinese, switch to English with the page's own switch, screenshot
    again, and switch back."""
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    shoot(page, f"{name}.zh")
    with page.expect_navigation():
        page.locator("form.lang button[value=en]").first.click()
    assert page.locator("html").get_attribute("lang") == "en"
    shoot(page, f"{name}.en")
    with page.expect_navigation():
        page.locator("form.lang button[value=zh-hans]").first.click()
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
