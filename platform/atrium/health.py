"""Liveness and readiness endpoints for load balancers and orchestrators."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def _check_broker() -> None:
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://", "unix://")):
        _check_redis(url)
        return
    from kombu import Connection  # type: ignore[attr-defined]  # re-exported lazily

    with Connection(url, connect_timeout=2) as broker:  # type: ignore[no-untyped-call]
        broker.ensure_connection(max_retries=1)


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Every dependency answers: database, Redis, broker."""
    checks: dict[str, str] = {}
    for name, check in (
        ("database", _check_database),
        ("redis", lambda: _check_redis(settings.REDIS_URL)),
        ("broker", _check_broker),
    ):
        started = time.monotonic()
        try:
            check()
        # Any failure of a dependency means "not ready": reported in the answer, never raised.
        except Exception as exc:
            checks[name] = f"error: {type(exc).__name__}"
        else:
            checks[name] = f"ok ({(time.monotonic() - started) * 1000:.0f} ms)"
    ready = all(value.startswith("ok") for value in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )
