"""Test fixtures: a real PostgreSQL test database with two malls, real Redis, a tenant-aware client.

Two tenants (`mall-a`, `mall-b`) are onboarded once per session through the real onboarding
service (template clone) and committed; each test runs in a transaction that is rolled back, so
tests see fresh tenant data. Tests that need committed data (pg_dump, other processes) use
`committed_tenant`, which onboards a throwaway tenant and drops it afterwards.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from apps.accounts.choices import StaffRole
from apps.accounts.services import invite_staff
from apps.merchants.services import create_api_key, create_merchant, sign
from tenants.models import Tenant
from tenants.selectors import clear_local_routes
from tenants.services import onboard_tenant

pytest_plugins = ("tests.celery_worker",)  # the Celery worker, fake Sentry, committed tenants

PASSWORD = "correct-horse-battery-7"
BASE = "atrium.test"


def host_of(slug: str) -> str:
    return f"{slug}.{BASE}"


@pytest.fixture(scope="session")
def two_malls(django_db_setup: None, django_db_blocker: Any) -> dict[str, Tenant]:
    with django_db_blocker.unblock():
        malls = {}
        for slug in ("mall-a", "mall-b"):
            tenant = Tenant.objects.filter(slug=slug).first()
            if tenant is None:
                tenant = onboard_tenant(
                    name=f"Mall {slug[-1].upper()}",
                    slug=slug,
                    operator_username="owner",
                    operator_password=PASSWORD,
                ).tenant
            malls[slug] = tenant
        connection.set_schema_to_public()
        return malls


@pytest.fixture(autouse=True)
def _fresh_cache_and_schema() -> Iterator[None]:
    cache.clear()
    clear_local_routes()
    yield
    connection.set_schema_to_public()


@pytest.fixture
def mall_a(two_malls: dict[str, Tenant], db: None) -> Tenant:
    # A fresh instance per test: tests change statuses, and the rollback only resets the row.
    return Tenant.objects.get(pk=two_malls["mall-a"].pk)


@pytest.fixture
def mall_b(two_malls: dict[str, Tenant], db: None) -> Tenant:
    return Tenant.objects.get(pk=two_malls["mall-b"].pk)


@pytest.fixture
def mall(mall_a: Tenant) -> Iterator[Tenant]:
    """Mall A, with the test's ORM calls in its schema (public again afterwards)."""
    with tenant_context(mall_a):
        yield mall_a
    connection.set_schema_to_public()


@pytest.fixture
def in_tenant() -> Callable[[Tenant], Any]:
    """`with in_tenant(mall): ...` runs ORM calls in that mall's schema."""
    return tenant_context


@pytest.fixture
def in_public() -> Callable[[], Any]:
    return lambda: schema_context(settings.PUBLIC_SCHEMA_NAME)


class Api:
    """The Django test client aimed at one host, speaking JSON."""

    def __init__(self, host: str, token: str | None = None) -> None:
        self.client = Client(HTTP_HOST=host)
        self.host = host
        self.token = token

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        merged = {}
        if self.token:
            merged["Authorization"] = f"Bearer {self.token}"
        merged.update(headers or {})
        return {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in merged.items()}

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        kwargs = self._headers(headers)
        if method == "GET":
            response = self.client.get(path, **kwargs)
        else:
            data = json.dumps(body) if body is not None else ""
            response = getattr(self.client, method.lower())(
                path, data=data, content_type="application/json", **kwargs
            )
        connection.set_schema_to_public()
        return response

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PATCH", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

    def as_token(self, token: str | None) -> Api:
        return Api(self.host, token)


@pytest.fixture
def api_for() -> Callable[..., Api]:
    return lambda host, token=None: Api(host, token)


@pytest.fixture
def provider_admin(db: None) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", "root@atrium.invalid", PASSWORD)


@pytest.fixture
def provider_api(provider_admin: Any) -> Api:
    api = Api(BASE)
    response = api.post("/api/provider/v1/auth/login", {"username": "root", "password": PASSWORD})
    assert response.status_code == 200, response.content
    return api.as_token(response.json()["access_token"])


def login(api: Api, surface: str, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = api.post(
        f"/api/{surface}/v1/auth/login", {"username": username, "password": password}
    )
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def console_a(mall_a: Tenant) -> Api:
    api = Api(host_of("mall-a"))
    return api.as_token(login(api, "console", "owner")["access_token"])


@pytest.fixture
def console_b(mall_b: Tenant) -> Api:
    api = Api(host_of("mall-b"))
    return api.as_token(login(api, "console", "owner")["access_token"])


@dataclass
class MerchantSetup:
    merchant: Any
    key_id: str
    secret: str
    cashier: Any


@pytest.fixture
def make_merchant(db: None) -> Callable[..., MerchantSetup]:
    def make(tenant: Tenant, name: str = "Shop", cashier: str | None = None) -> MerchantSetup:
        with tenant_context(tenant):
            merchant = create_merchant(name=name)
            issued = create_api_key(merchant=merchant)
            staff = invite_staff(
                username=cashier or f"cashier-{uuid.uuid4().hex[:6]}",
                role=StaffRole.MERCHANT_CASHIER,
                merchant=merchant,
                password=PASSWORD,
            ).staff
        connection.set_schema_to_public()
        return MerchantSetup(merchant, issued.api_key.key_id, issued.secret, staff)

    return make


def signed_headers(
    key_id: str,
    secret: str,
    method: str,
    path: str,
    body: bytes = b"",
    timestamp: int | None = None,
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Atrium-Key": key_id,
        "X-Atrium-Timestamp": ts,
        "X-Atrium-Signature": sign(
            secret=secret, method=method, path=path, timestamp=ts, body=body
        ),
    }


@pytest.fixture
def committed_tenant(two_malls: dict[str, Tenant], django_db_blocker: Any) -> Iterator[Tenant]:
    """A tenant whose data is committed (for pg_dump and other processes); dropped afterwards."""
    slug = f"tmp-{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        tenant = onboard_tenant(
            name="Committed Mall", slug=slug, operator_username="owner", operator_password=PASSWORD
        ).tenant
        try:
            yield tenant
        finally:
            connection.set_schema_to_public()
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{tenant.schema_name}" CASCADE')
            tenant.exports.all().delete()
            tenant.domains.all().delete()
            Tenant.objects.filter(pk=tenant.pk).delete()


@pytest.fixture
def redis_sends(monkeypatch):
    """What this process sends to Redis: one entry per round trip (a pipeline sends once)."""
    import redis.connection

    sent = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return sent
