"""The POS ingest: single POS sales taken in outside Django's request path
(docs/adr/0022-pos-ingest-outside-the-django-request.md).

`POST /api/integration/v1/sales` is what tills call most, one sale per call. Through gunicorn
and Django each call spends about 2.5 ms of Python on HTTP, middleware, URL resolving and ninja
before its sale is written, and the calls of one process meet in groups of two or three. Here an
event loop only reads the calls and hands them to a writer thread, which takes every call queued
meanwhile (up to `MAX_GROUP`) and answers them together:

- each call's tenant from its host (the router's cached routes), the request side of the
  hook-style middleware (language, the HTTPS redirect), and its body parsed as `SaleIn`;
- the signatures of each tenant's calls checked in one Redis round trip
  (`accept_signed_requests`);
- each tenant's sales written in one transaction (`write_group`, as the group commit does: a
  group that fails as a whole lets each of its sales write alone; a sale paid with points is
  written alone);
- each answer rendered by the integration API's own renderer and exception handlers, through the
  response side of the same middleware, with the call's `X-Request-ID`.

A call the fast path does not take (an unknown or refused tenant, a malformed or oversized body,
missing or failing signature headers, a key this process has not read yet, a replayed signature,
a redirect) is left to Django's full request path, in the same process, before anything is
marked or written for it: Django then answers it exactly as it would have (a replayed
signature's first use holds its mark, so Django refuses the replay). Every other path goes to
Django unchanged.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.core.handlers.asgi import ASGIRequest
from django.core.signals import setting_changed
from django.db import close_old_connections
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.deprecation import MiddlewareMixin
from django.utils.log import log_response
from django.utils.module_loading import import_string

from apps.merchants.models import Merchant
from apps.merchants.services import SignedRequest, accept_signed_requests
from apps.sales.api import result_out, sale_request
from apps.sales.choices import Channel
from apps.sales.middleware import POS_SALES_PATH
from apps.sales.schemas import SaleIn
from apps.sales.services import SaleRequest, SaleResult, record_sales
from apps.sales.services.group_commit import MAX_GROUP, pays_with_points, write_group
from atrium.api import integration_api
from atrium.logging import request_id_var, tenant_var
from atrium.middleware import request_id_for
from atrium.tenancy import tenant_connection
from tenants.middleware import REFUSED_STATUSES, public_hosts, request_host
from tenants.models import Tenant
from tenants.selectors import route_for_host

logger = logging.getLogger("atrium.ingest")

Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The middleware of settings.MIDDLEWARE that are not hook-style (MiddlewareMixin): what each
# does for a POS sale call is done here by hand. A new one must be looked at before it is added.
HANDLED_BY_HAND = frozenset(
    {
        "atrium.middleware.RequestContextMiddleware",  # X-Request-ID, log context
        "tenants.middleware.TenantResolutionMiddleware",  # the route, refusals left to Django
        "apps.sales.middleware.PosSaleArrivalMiddleware",  # the group commit's count: not used
        "whitenoise.middleware.WhiteNoiseMiddleware",  # static files: never this path
    }
)


@dataclass(frozen=True)
class _Hooks:
    requests: tuple[Callable[[HttpRequest], HttpResponse | None], ...]
    responses: tuple[Callable[[HttpRequest, HttpResponse], HttpResponse], ...]  # innermost first


@cache
def _hooks() -> _Hooks:
    """The hooks of the hook-style middleware of settings.MIDDLEWARE, in the order Django runs
    them around a view."""
    instances = []
    for dotted in settings.MIDDLEWARE:
        if dotted in HANDLED_BY_HAND:
            continue
        middleware_class = import_string(dotted)
        if not issubclass(middleware_class, MiddlewareMixin):
            raise RuntimeError(f"the POS ingest does not know what {dotted} does")
        instances.append(middleware_class(_no_view))
    return _Hooks(
        requests=tuple(m.process_request for m in instances if hasattr(m, "process_request")),
        responses=tuple(
            m.process_response for m in reversed(instances) if hasattr(m, "process_response")
        ),
    )


@receiver(setting_changed)
def _settings_changed(**kwargs: Any) -> None:
    _hooks.cache_clear()  # the middleware read their settings when made (tests change them)


def _no_view(request: HttpRequest) -> HttpResponse:  # pragma: no cover - never called
    raise AssertionError("the POS ingest runs the middleware's hooks only")


@dataclass(eq=False)
class _Call:
    request: HttpRequest
    request_id: str
    taken: bool = False  # by the fast path; otherwise Django answers it
    tenant: Tenant | None = None
    language: str = ""
    payload: SaleIn | None = None
    signed: SignedRequest | None = None
    merchant: Merchant | None = None
    sale: SaleRequest | None = None
    outcome: SaleResult | Exception | None = None


def answer_calls(requests: Sequence[HttpRequest]) -> list[HttpResponse | None]:
    """Answer POS sale calls taken in together: each one's response, or None for a call left to
    Django's full request path (nothing has been marked or written for it)."""
    calls = [_Call(r, request_id_for(r.headers.get("X-Request-ID", ""))) for r in requests]
    by_schema: dict[str, list[_Call]] = {}
    for call in calls:
        if _prepare(call):
            assert call.tenant is not None  # noqa: S101 - set by _prepare
            by_schema.setdefault(call.tenant.schema_name, []).append(call)
    for tenant_calls in by_schema.values():
        _serve_tenant(tenant_calls)
    return [_response(call) if call.taken else None for call in calls]


def _prepare(call: _Call) -> bool:
    """Whether the fast path can take the call: everything checked that needs no mark."""
    request = call.request
    if request.method != "POST" or request.path_info != POS_SALES_PATH:
        return False
    if request.META.get("QUERY_STRING"):
        return False
    try:
        host = request_host(request)
    except DisallowedHost:
        return False
    if host in public_hosts():
        return False
    route = route_for_host(host)
    if route is None or route.status in REFUSED_STATUSES:
        return False
    request.urlconf = settings.ROOT_URLCONF  # type: ignore[attr-defined]  # as the router sets it
    try:
        if any(hook(request) is not None for hook in _hooks().requests):
            return False  # a middleware answers (the HTTPS redirect): Django does it
    except Exception:  # a middleware refuses (PermissionDenied): Django answers
        return False
    call.language = translation.get_language()
    key_id = request.headers.get("X-Atrium-Key")
    timestamp = request.headers.get("X-Atrium-Timestamp")
    signature = request.headers.get("X-Atrium-Signature")
    if not (key_id and timestamp and signature):
        return False
    try:
        body = request.body
        call.payload = SaleIn.model_validate(json.loads(body))
    # ValidationError and JSONDecodeError are ValueErrors; JSON nested past the recursion limit
    # raises RecursionError. Any of them is this call's own: Django answers it, the take goes on.
    except (RequestDataTooBig, ValueError, RecursionError):
        return False
    call.tenant = route.tenant()
    call.tenant.domain_url = host
    call.signed = SignedRequest(
        key_id, timestamp, signature.lower(), request.method, request.get_full_path(), body
    )
    return True


def _serve_tenant(calls: list[_Call]) -> None:
    """Authenticate one tenant's calls together, then write the sales of those that pass."""
    tenant = calls[0].tenant
    assert tenant is not None  # noqa: S101 - grouped by it
    tenant_connection().set_tenant(tenant)
    token = tenant_var.set(tenant.slug)
    try:
        try:
            keys = accept_signed_requests(
                [call.signed for call in calls if call.signed is not None]
            )
        except Exception as exc:  # each call answers it (500), as Django would
            for call in calls:
                call.taken, call.outcome = True, exc
            return
        accepted = []
        for call, api_key in zip(calls, keys, strict=True):
            if api_key is None or call.payload is None:
                continue
            call.taken, call.merchant = True, api_key.merchant
            call.sale = sale_request(
                call.payload, channel=Channel.POS, actor=f"api_key:{api_key.pk}"
            )
            accepted.append(call)
        _write(accepted)
    finally:
        tenant_var.reset(token)
        tenant_connection().set_schema_to_public()


def _write(calls: list[_Call]) -> None:
    """Each call's outcome: its sale written in the tenant's group, or alone."""
    together = [c for c in calls if c.sale is not None and not pays_with_points(c.sale)]
    alone = [c for c in calls if c not in together]
    if together:
        try:
            outcomes = write_group([(c.merchant, c.sale) for c in together])  # type: ignore[misc]
        except Exception:  # the group as a whole failed: each sale alone
            logger.warning("ingest.group_failed", exc_info=True, extra={"sales": len(together)})
            # (A lost connection was closed by the failed atomic block: the next opens anew.)
            alone = together + alone
        else:
            for call, outcome in zip(together, outcomes, strict=True):
                call.outcome = outcome
    for call in alone:
        assert call.merchant is not None  # noqa: S101 - accepted calls have both
        assert call.sale is not None  # noqa: S101
        try:
            (call.outcome,) = record_sales(merchant=call.merchant, requests=[call.sale])
        except Exception as exc:  # the call's own answer (500)
            call.outcome = exc


def _response(call: _Call) -> HttpResponse:
    """The call's answer, as the integration API and the middleware would have made it."""
    request, outcome = call.request, call.outcome
    tokens = (
        request_id_var.set(call.request_id),
        tenant_var.set(call.tenant.slug if call.tenant else "public"),
    )
    translation.activate(call.language or settings.LANGUAGE_CODE)
    try:
        if isinstance(outcome, SaleResult):
            response = integration_api.create_response(
                request, result_out(outcome).model_dump(), status=201 if outcome.created else 200
            )
        else:
            error = outcome if outcome is not None else RuntimeError("no outcome")
            response = integration_api.on_exception(request, error)
        for hook in _hooks().responses:
            response = hook(request, response)
        response["X-Request-ID"] = call.request_id
        if response.status_code >= 400:  # logged as Django's handler logs it
            log_response(
                "%s: %s", response.reason_phrase, request.path, response=response, request=request
            )
        return response
    finally:
        request_id_var.reset(tokens[0])
        tenant_var.reset(tokens[1])


def request_of(scope: Scope, body: bytes) -> HttpRequest:
    """The Django request of an ASGI HTTP call whose body has been read."""
    return ASGIRequest(scope, io.BytesIO(body))


def asgi_headers(response: HttpResponse) -> list[tuple[bytes, bytes]]:
    """A response's headers and cookies as ASGI sends them (as Django's ASGI handler does)."""
    headers = [(name.encode("ascii"), value.encode("latin-1")) for name, value in response.items()]
    headers.extend(
        (b"Set-Cookie", cookie.output(header="").encode("ascii").strip())
        for cookie in response.cookies.values()
    )
    return headers


# --- the ASGI app and its writer threads ------------------------------------------------------


@dataclass(eq=False)
class _Pending:
    scope: Scope
    body: bytes
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[HttpResponse | None]
    queued_at: float = field(default_factory=time.monotonic)


def _settle(future: asyncio.Future[HttpResponse | None], answer: HttpResponse | None) -> None:
    if not future.done():  # the client may have gone away meanwhile
        future.set_result(answer)


def _fail(future: asyncio.Future[HttpResponse | None], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


@dataclass(eq=False)
class Writers:
    """Threads that answer the queued calls, each taking every call queued (up to a group).

    While one writer writes, the others are spares: they leave the calls that arrive meanwhile
    to queue up, so that the next take writes them together (a transaction's fixed cost is
    about half of a sale's at groups of seven: ADR 0026). A spare takes them once the oldest
    has waited `spare_after` behind a busy writer: a slow write (a lock wait, say) then does not
    hold every call of the process."""

    count: int = 1
    max_group: int = MAX_GROUP
    gather_seconds: float = 0.0
    gather_gap: float = 0.0005
    spare_after: float = 0.05
    groups: int = 0  # takes answered (for tests and the bench)
    calls: int = 0  # calls they held
    _queue: deque[_Pending] = field(default_factory=deque)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _threads: list[threading.Thread] = field(default_factory=list)
    _stopping: bool = False
    _writing: int = 0  # writers between a take and its answers

    def submit(self, pending: _Pending) -> None:
        with self._changed:
            if not self._threads:
                self._start()
            self._queue.append(pending)
            self._changed.notify()

    def _start(self) -> None:  # under self._changed
        self._stopping = False
        for index in range(self.count):
            thread = threading.Thread(target=self._run, name=f"pos-ingest-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Answer what is queued, then end the threads."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout)

    def _take(self) -> list[_Pending]:
        """The next group of calls; empty only once stopping with nothing queued (the thread
        then ends). Call `_done` once they are answered."""
        with self._changed:
            while True:
                while (wait := self._wait_to_take()) != 0:
                    self._changed.wait(wait)
                if not self._queue:
                    return []
                self._gather()
                # Another writer may have taken every call while this one gathered (the wait
                # lets go of the lock): then this one waits for the next call, it does not end.
                taken = [
                    self._queue.popleft() for _ in range(min(len(self._queue), self.max_group))
                ]
                if taken:
                    self.groups += 1
                    self.calls += len(taken)
                    self._writing += 1
                    return taken

    def _done(self) -> None:
        with self._changed:
            self._writing -= 1
            self._changed.notify_all()  # a spare waiting for this writer may take now

    def _wait_to_take(self) -> float | None:  # under self._changed
        """How long before this writer may take: 0 now, None until notified. A spare waits
        until the oldest call has waited `spare_after` behind a busy writer."""
        if self._stopping:
            return 0.0  # what is queued is answered at once; nothing queued ends the thread
        if not self._queue:
            return None
        if not self._writing:
            return 0.0
        return max(0.0, self._queue[0].queued_at + self.spare_after - time.monotonic())

    def _gather(self) -> None:  # under self._changed
        # While calls keep arriving (each within `gather_gap`), wait for them, up to
        # `gather_seconds` in all: a small group costs nearly what a large one does.
        deadline = time.monotonic() + self.gather_seconds
        while 0 < len(self._queue) < self.max_group and not self._stopping:
            left = min(deadline - time.monotonic(), self.gather_gap)
            if left <= 0:
                return
            queued = len(self._queue)
            self._changed.wait(left)
            if len(self._queue) == queued:
                return

    def _run(self) -> None:
        while taken := self._take():
            try:
                close_old_connections()  # as at a request's start and end: drop a broken one
                answers = answer_calls([request_of(p.scope, p.body) for p in taken])
            except BaseException as exc:  # every waiting call learns of it
                logger.exception("ingest.take_failed")
                for pending in taken:
                    pending.loop.call_soon_threadsafe(_fail, pending.future, exc)
            else:
                for pending, answer in zip(taken, answers, strict=True):
                    pending.loop.call_soon_threadsafe(_settle, pending.future, answer)
            finally:
                self._done()
                close_old_connections()


class PosIngest:
    """ASGI app: POS sale calls through the writers, everything else (and every call the fast
    path leaves) through `fallback`, Django's ASGI app."""

    def __init__(self, fallback: AsgiApp, writers: Writers | None = None) -> None:
        self.fallback = fallback
        self.writers = writers or Writers(
            count=settings.POS_INGEST_WRITERS,
            gather_seconds=settings.POS_INGEST_GATHER_MS / 1000,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if not (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == POS_SALES_PATH
        ):
            await self.fallback(scope, receive, send)
            return
        body, more = await _read_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        if more is None:
            return  # the client went away
        answer: HttpResponse | None = None
        if not more:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[HttpResponse | None] = loop.create_future()
            self.writers.submit(_Pending(scope, body, loop, future))
            answer = await future
        if answer is None:
            await self.fallback(scope, _replay(body, bool(more), receive), send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": answer.status_code,
                "headers": asgi_headers(answer),
            }
        )
        await send({"type": "http.response.body", "body": answer.content})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # The server has stopped taking calls and waited for those in flight.
                await asyncio.to_thread(self.writers.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _read_body(receive: Receive, limit: int | None) -> tuple[bytes, bool | None]:
    """The body read so far, and whether more follows (None: the client disconnected).
    Stops reading past `limit` bytes: Django then answers (and reads the rest)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = bool(message.get("more_body", False))
        if not more or (limit is not None and size > limit):
            return b"".join(chunks), more


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """`receive` for Django: the body already read, then whatever the client still sends."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay
