"""Helpers for tests of the outbox and websockets (committed data, real Redis channel layer)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer
from django.db import transaction

from apps.accounts.choices import SubjectKind
from apps.accounts.models import StaffUser
from atrium import outbox, tokens
from atrium.models import AuthSession
from tenants.models import Tenant
from tests.celery_worker import in_tenant

BASE = "atrium.test"


def host_of(tenant: Tenant) -> str:
    return f"{tenant.slug}.{BASE}"


def emit_committed(tenant: Tenant, topic: str, payload: dict[str, Any]) -> str:
    """Emit one event in its own committed transaction; returns the event id."""

    def run() -> str:
        with transaction.atomic():
            return str(outbox.emit(topic, payload).pk)

    return in_tenant(tenant, run)


def access_token(tenant: Tenant, *, subject_kind: str, subject_id: object) -> str:
    def run() -> str:
        return tokens.issue_tokens(
            session_model=AuthSession, subject_kind=subject_kind, subject_id=str(subject_id)
        ).access_token

    return in_tenant(tenant, run)


def owner_token(tenant: Tenant) -> str:
    owner = in_tenant(tenant, lambda: StaffUser.objects.get(username="owner"))
    return access_token(tenant, subject_kind=SubjectKind.STAFF, subject_id=owner.pk)


class GroupListener:
    """A raw channel of the real channel layer, subscribed to some groups (one event loop)."""

    def __init__(self, channel: str) -> None:
        self.layer = get_channel_layer()
        self.channel = channel

    @classmethod
    async def subscribe(cls, groups: Sequence[str]) -> GroupListener:
        layer = get_channel_layer()
        listener = cls(await layer.new_channel())
        for group in groups:
            await layer.group_add(group, listener.channel)
        return listener

    async def drain(
        self, *, expect: int = 0, timeout: float = 20.0, quiet: float = 1.0
    ) -> list[dict[str, Any]]:
        """Messages until `expect` arrived (or `timeout`), then until `quiet` s pass in silence."""
        messages: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            wait = quiet if len(messages) >= expect else max(0.01, deadline - loop.time())
            try:
                messages.append(await asyncio.wait_for(self.layer.receive(self.channel), wait))
            except TimeoutError:
                if len(messages) >= expect or loop.time() >= deadline:
                    return messages


class WebsocketCommunicator(ApplicationCommunicator):
    """channels.testing.WebsocketCommunicator without its package (which needs daphne, a server
    we do not run): a websocket client speaking ASGI straight to the application."""

    def __init__(self, application: Any, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        parsed = urlsplit(path)
        scope = {
            "type": "websocket",
            "path": unquote(parsed.path),
            "query_string": parsed.query.encode(),
            "headers": headers,
            "subprotocols": [],
        }
        super().__init__(application, scope)

    async def connect(self, timeout: float = 1) -> tuple[bool, Any]:
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        assert response["type"] == "websocket.accept"
        return True, response.get("subprotocol")

    async def send_json_to(self, data: Any) -> None:
        await self.send_input({"type": "websocket.receive", "text": json.dumps(data)})

    async def send_text_to(self, text: str) -> None:
        await self.send_input({"type": "websocket.receive", "text": text})

    async def receive_json_from(self, timeout: float = 1) -> Any:
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send", response
        return json.loads(response["text"])

    async def disconnect(self, code: int = 1000, timeout: float = 1) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


async def connect_socket(
    path: str, *, host: str, token: str | None = None
) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    """Open a socket on the real ASGI app; returns it and its first frame (or close message)."""
    from atrium.asgi import application

    query = f"?token={token}" if token else ""
    communicator = WebsocketCommunicator(
        application, f"{path}{query}", headers=[(b"host", host.encode())]
    )
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator, await communicator.receive_output(timeout=10)


async def run_sync(func: Callable[..., Any], *args: Any) -> Any:
    """Run blocking test code (database, subprocesses) from a test's event loop."""
    return await sync_to_async(func)(*args)
