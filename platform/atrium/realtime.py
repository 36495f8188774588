"""Websockets: the tenant from the Host header, per-audience groups, and the outbox push.

django-tenants does not cover websockets, so `TenantWebsocketMiddleware` resolves the tenant
itself and `TenantConsumer.in_tenant` runs every database call of a consumer inside that
tenant's schema (a consumer that forgot would read whichever schema its thread last used).

Close codes: 4401 unauthenticated (also when the access token that opened the socket expires:
the client opens a new one with a fresh token), 4403 tenant suspended or archived (or caller not
allowed), 4404 unknown host. Sockets are accepted first and then closed, so that browsers see
the code.

Groups: `t.<schema>.console` gets every event of the tenant; `t.<schema>.merchant.<id>` and
`t.<schema>.member.<id>` get the events whose payload names that `merchant_id` / `member_id`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qs

import sentry_sdk
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings
from django_tenants.utils import schema_context, tenant_context

from atrium.errors import AuthenticationError, PermissionDeniedError
from atrium.logging import actor_var, tenant_var
from atrium.outbox import EventEnvelope
from atrium.tokens import read_access_token
from tenants.choices import TenantStatus
from tenants.models import Tenant
from tenants.selectors import route_for_host

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_UNKNOWN_TENANT = 4404
EVENT_MESSAGE_TYPE = "outbox.event"  # handled by TenantConsumer.outbox_event

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
T = TypeVar("T")


def _group(schema: str, *parts: str) -> str:
    name = ".".join(("t", schema, *parts))
    if len(name) >= BaseChannelLayer.MAX_NAME_LENGTH:
        raise ValueError(f"group name too long: {name}")
    return name


def console_group(schema: str) -> str:
    return _group(schema, "console")


def merchant_group(schema: str, merchant_id: object) -> str:
    return _group(schema, "merchant", str(merchant_id))


def member_group(schema: str, member_id: object) -> str:
    return _group(schema, "member", str(member_id))


def audience_groups(envelope: EventEnvelope) -> list[str]:
    """The groups an event goes to: the tenant console, plus the merchant and member it names."""
    groups = [console_group(envelope.schema)]
    if merchant_id := envelope.payload.get("merchant_id"):
        groups.append(merchant_group(envelope.schema, merchant_id))
    if member_id := envelope.payload.get("member_id"):
        groups.append(member_group(envelope.schema, member_id))
    return groups


def push_event(envelope: EventEnvelope) -> None:
    """Outbox handler: send an event to its tenant's sockets (see `audience_groups`)."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": EVENT_MESSAGE_TYPE, "event": envelope.as_message()}
    async_to_sync(_send_to_groups)(layer, audience_groups(envelope), message)


async def _send_to_groups(
    layer: BaseChannelLayer, groups: Iterable[str], message: dict[str, Any]
) -> None:
    for group in groups:
        await layer.group_send(group, message)


def _host_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"host":
            host: str = value.decode("latin-1")
            return host.split(":")[0].lower().rstrip(".")
    return ""


def resolve_tenant(host: str) -> tuple[Tenant | None, int]:
    """The active tenant of a host, or None and the close code that refuses the socket."""
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        route = route_for_host(host) if host else None
        if route is None:
            return None, CLOSE_UNKNOWN_TENANT
        if route.status != TenantStatus.ACTIVE:
            return None, CLOSE_FORBIDDEN
    return route.tenant(), 0  # built from the cached route, as the HTTP middleware does


async def _refuse(receive: Receive, send: Send, code: int) -> None:
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": code})


class TenantWebsocketMiddleware:
    """Puts the host's tenant in `scope["tenant"]`; refuses unknown (4404) and inactive (4403)."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.inner(scope, receive, send)
            return
        tenant, code = await database_sync_to_async(resolve_tenant)(_host_of(scope))
        if tenant is None:
            await _refuse(receive, send, code)
            return
        token = tenant_var.set(tenant.slug)
        sentry_sdk.set_tag("tenant", tenant.slug)
        try:
            await self.inner({**scope, "tenant": tenant}, receive, send)
        finally:
            tenant_var.reset(token)


@dataclass(frozen=True)
class Subscription:
    """Who a socket speaks for and the groups it listens to."""

    actor: str
    groups: tuple[str, ...]


class TenantConsumer(AsyncJsonWebsocketConsumer):
    """A socket of one tenant: authenticates with an access token, then receives its events.

    The token comes in the query string (`?token=`) or as the first message
    (`{"type": "auth", "token": "..."}`, preferred: query strings end up in access logs).
    Subclasses implement `authorize`, which runs in the tenant's schema.
    """

    auth_timeout_seconds: ClassVar[float] = 10.0
    remembered_events: ClassVar[int] = 1000  # ids kept to drop repeated deliveries

    subscription: Subscription | None
    _seen: OrderedDict[str, None]
    _auth_deadline: asyncio.Task[None] | None
    _expiry: asyncio.Task[None] | None
    _expires_at: float

    def authorize(self, token: str) -> Subscription:
        """Check the token and choose the groups. Raises AuthenticationError or PermissionDeniedError."""
        raise NotImplementedError

    async def in_tenant(self, func: Callable[..., T], *args: Any) -> T:
        """Run a database-touching function in a worker thread, inside this socket's schema."""
        tenant = self.scope["tenant"]

        def run() -> T:
            with tenant_context(tenant):
                return func(*args)

        result: T = await database_sync_to_async(run)()
        return result

    async def connect(self) -> None:
        self.subscription = None
        self._seen = OrderedDict()
        self._auth_deadline = None
        self._expiry = None
        self._expires_at = 0.0
        await self.accept()
        token = _query_token(self.scope)
        if token:
            await self._authenticate(token)
        else:
            self._auth_deadline = asyncio.ensure_future(self._close_if_still_anonymous())

    async def disconnect(self, code: int) -> None:
        for task in (self._auth_deadline, self._expiry):
            if task is not None:
                task.cancel()

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return json.loads(text_data)
        except ValueError:
            return None

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        message = content if isinstance(content, dict) else {}
        if self.subscription is None:
            token = message.get("token") if message.get("type") == "auth" else None
            if not isinstance(token, str) or not token:
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
            await self._authenticate(token)
        elif message.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def outbox_event(self, message: dict[str, Any]) -> None:
        """A group message from `push_event`: forward it once per event id."""
        if time.time() >= self._expires_at:
            # The token expired (its timer is due): nothing more goes out on it.
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        event = message["event"]
        event_id = str(event["id"])
        if event_id in self._seen:
            return
        self._seen[event_id] = None
        if len(self._seen) > self.remembered_events:
            self._seen.popitem(last=False)
        await self.send_json({"type": "event", **event})

    def _authorize_until(self, token: str) -> tuple[Subscription, float]:
        return self.authorize(token), read_access_token(token).expires_at

    async def _authenticate(self, token: str) -> None:
        try:
            subscription, expires_at = await self.in_tenant(self._authorize_until, token)
        except AuthenticationError:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        except PermissionDeniedError:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if self._auth_deadline is not None:
            self._auth_deadline.cancel()
        self._expires_at = expires_at  # before any event of the groups can arrive
        for group in subscription.groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups = list(subscription.groups)  # channels leaves them on disconnect
        self.subscription = subscription
        self._expiry = asyncio.ensure_future(self._close_when_expired())
        actor_var.set(subscription.actor)
        await self.send_json({"type": "ready"})

    async def _close_when_expired(self) -> None:
        """A socket lives no longer than the access token that opened it: its events are the
        same personal data the token's HTTP calls would read."""
        await asyncio.sleep(max(0.0, self._expires_at - time.time()))
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def _close_if_still_anonymous(self) -> None:
        await asyncio.sleep(self.auth_timeout_seconds)
        if self.subscription is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)


def _query_token(scope: Scope) -> str:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get("token") or [""])[0]
