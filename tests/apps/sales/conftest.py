"""Fixtures for the sales tests: a shop with a POS key and a cashier in mall A, members, and a
snapshot of every table a sale or refund writes (negative tests assert it did not move)."""

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.loyalty.models import GrowthEntry, JournalEntry, PointsAccount
from apps.members.models import Member
from apps.members.services import issue_member_code, join_member
from apps.sales.ingest import answer_calls, request_of
from apps.sales.middleware import POS_SALES_PATH
from apps.sales.models import Receipt, Refund, Sale, SaleItem, SalePayment
from atrium.models import OutboxEvent
from tests.conftest import Api, host_of, login, signed_headers

HOST_A = host_of("mall-a")


def now_iso(minutes_ago: int = 1) -> str:
    return (timezone.now() - dt.timedelta(minutes=minutes_ago)).isoformat()


def sale_body(external_id="T-1", total="128.50", member=None, **fields):
    body = {
        "external_id": external_id,
        "occurred_at": now_iso(),
        "total": total,
        "payments": [{"method": "cash", "amount": total}],
    }
    if member is not None:
        body["member"] = member
    body.update(fields)
    return body


class IngestResponse:
    """An answer of the POS ingest, read like the test client's responses."""

    def __init__(self, response: HttpResponse) -> None:
        self.response = response
        self.status_code = response.status_code
        self.content = response.content
        self.headers = response.headers

    def json(self) -> Any:
        return json.loads(self.content)


def ingest_scope(host: str, path: str, raw: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """The ASGI scope uvicorn would give the POS ingest for this call."""
    sent = {"Host": host, "Content-Type": "application/json", "Content-Length": str(len(raw))}
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in {**sent, **headers}.items()],
    }  # fmt: skip


@dataclass
class Pos:
    """A merchant's till speaking the signed integration API: through Django (`via="django"`),
    or with its sale calls through the POS ingest (`via="ingest"`, apps.sales.ingest), which
    leaves the calls it does not take to Django, as in production."""

    shop: Any
    host: str = HOST_A
    last_timestamp: int = 2**62
    via: str = "django"
    taken: int = 0  # calls the ingest answered itself

    def send(self, path: str, raw: bytes, headers: dict[str, str]) -> Any:
        """POST a raw body with these headers."""
        if self.via == "ingest" and path == POS_SALES_PATH:
            (answer,) = answer_calls([request_of(ingest_scope(self.host, path, raw, headers), raw)])
            connection.set_schema_to_public()
            if answer is not None:
                self.taken += 1
                return IngestResponse(answer)
        api = Api(self.host)
        response = api.client.post(
            path, data=raw, content_type="application/json", **api._headers(headers)
        )
        connection.set_schema_to_public()
        return response

    def _timestamp(self) -> int:
        # A retry is signed afresh: a distinct, strictly falling timestamp per call (within the
        # allowed skew), so two identical requests in one second are not a replayed signature.
        self.last_timestamp = min(int(time.time()), self.last_timestamp - 1)
        return self.last_timestamp

    def post(self, path: str, body: Any, timestamp: int | None = None) -> Any:
        raw = json.dumps(body).encode()
        stamp = self._timestamp() if timestamp is None else timestamp
        headers = signed_headers(self.shop.key_id, self.shop.secret, "POST", path, raw, stamp)
        return self.send(path, raw, headers)

    def get(self, path: str) -> Any:
        headers = signed_headers(
            self.shop.key_id, self.shop.secret, "GET", path, b"", self._timestamp()
        )
        return Api(self.host).request("GET", path, headers=headers)

    def sale(self, body: Any, **kw: Any) -> Any:
        return self.post("/api/integration/v1/sales", body, **kw)

    def refund(self, external_id: str, refund_id: str, amount: Any) -> Any:
        return self.post(
            f"/api/integration/v1/sales/{external_id}/refunds",
            {"refund_id": refund_id, "amount": amount},
        )


@pytest.fixture
def shop(mall_a, make_merchant):
    return make_merchant(mall_a, name="Tea House", cashier="tea-cashier")


@pytest.fixture
def other_shop(mall_a, make_merchant):
    return make_merchant(mall_a, name="Book Shop", cashier="book-cashier")


@pytest.fixture
def pos(shop):
    return Pos(shop)


@pytest.fixture
def portal(shop):
    api = Api(HOST_A)
    return api.as_token(login(api, "merchant", "tea-cashier")["access_token"])


@dataclass
class MemberSetup:
    member: Member
    phone: str

    def code(self, tenant) -> str:
        with tenant_context(tenant):
            code = issue_member_code(member=self.member).code
        connection.set_schema_to_public()
        return code


@pytest.fixture
def make_member(mall_a):
    counter = iter(range(1000))

    def make(tenant=mall_a, phone=None):
        phone = phone or f"1380013{next(counter):04d}"
        with tenant_context(tenant):
            member = join_member(channel="app", phone=phone, phone_verified=True).member
        connection.set_schema_to_public()
        return MemberSetup(member, phone)

    return make


@pytest.fixture
def member(make_member):
    return make_member()


def table_counts(tenant) -> dict[str, int]:
    """Rows of every table a sale, refund or receipt writes (and what loyalty writes for them)."""
    models = (
        Sale, SaleItem, SalePayment, Refund, Receipt, JournalEntry, GrowthEntry, PointsAccount,
        Member, OutboxEvent,
    )  # fmt: skip
    with tenant_context(tenant):
        counts = {model.__name__: model.objects.count() for model in models}
    connection.set_schema_to_public()
    return counts


def balance_of(tenant, member) -> tuple[int, int]:
    with tenant_context(tenant):
        account = PointsAccount.objects.filter(member=member).first()
    connection.set_schema_to_public()
    return (account.balance, account.growth) if account else (0, 0)


def in_schema(tenant, fn):
    with tenant_context(tenant):
        result = fn()
    connection.set_schema_to_public()
    return result


class Holder:
    """A session of its own holding advisory locks (as another transaction would hold rows)."""

    def __init__(self):
        settings = connection.settings_dict
        self.conn = psycopg.connect(
            dbname=settings["NAME"], host=settings["HOST"] or None,
            port=settings["PORT"] or None, user=settings["USER"] or None,
            password=settings["PASSWORD"] or None, autocommit=True,
        )  # fmt: skip

    def lock(self, key):
        self.conn.execute("SELECT pg_advisory_lock(%s)", [key])

    def unlock(self, key):
        self.conn.execute("SELECT pg_advisory_unlock(%s)", [key])

    def waiting(self):
        """Backends waiting for an advisory lock."""
        rows = self.conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchall()
        return [pid for (pid,) in rows]

    def terminate(self, pid):
        self.conn.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.fixture
def holder(django_db_blocker):
    with django_db_blocker.unblock():
        held = Holder()
        yield held
        held.conn.close()
