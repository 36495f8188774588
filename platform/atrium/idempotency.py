"""`Idempotency-Key` for POSTs that create money, points, orders or other records.

The first response is stored under a unique (scope, key) row together with a hash of the request;
a retry with the same body gets that response again, the same key with another body gets 409.
The row is written in the same transaction as the work, so a failed attempt leaves no trace.
"""

from __future__ import annotations

import functools
import hashlib
import json
import typing
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from ninja.responses import Status

from atrium.errors import IdempotencyConflictError, IdempotencyKeyInvalidError
from atrium.models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_KEY_LENGTH = 200


def request_fingerprint(request: HttpRequest, scope: str) -> str:
    """SHA-256 over the scope, path and canonical JSON body (or raw body if not JSON)."""
    try:
        body = json.dumps(json.loads(request.body or b"null"), sort_keys=True, ensure_ascii=False)
    except ValueError:
        body = request.body.decode("utf-8", "replace")
    return hashlib.sha256(f"{scope}\n{request.path}\n{body}".encode()).hexdigest()


def _jsonable(value: Any) -> Any:
    from ninja.responses import NinjaJSONEncoder

    return json.loads(json.dumps(value, cls=NinjaJSONEncoder))


def idempotent(scope: str, *, required: bool = False) -> Callable[[Callable[..., Any]], Any]:
    """Wrap a ninja handler that returns `Status(code, body)` so retries replay its result.

    `scope` names the operation; the acting principal is appended so two merchants' keys
    never collide.
    """

    def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
        # ninja reads the wrapped signature with this module's globals; resolve string
        # annotations (PEP 563) against the handler's own module first.
        handler.__annotations__ = typing.get_type_hints(handler)

        @functools.wraps(handler)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            key = request.META.get(HEADER, "")
            if not key:
                if required:
                    raise IdempotencyKeyInvalidError("Idempotency-Key header is required")
                return handler(request, *args, **kwargs)
            if len(key) > MAX_KEY_LENGTH or not key.isprintable():
                raise IdempotencyKeyInvalidError("Idempotency-Key is malformed")
            principal = getattr(request, "auth", None)
            full_scope = f"{scope}:{getattr(principal, 'scope_id', '')}"
            fingerprint = request_fingerprint(request, full_scope)
            existing = IdempotencyRecord.objects.filter(scope=full_scope, key=key).first()
            if existing is not None:
                return _replay(existing, fingerprint)
            try:
                with transaction.atomic():
                    result = handler(request, *args, **kwargs)
                    status, body = (
                        (result.status_code, result.value)
                        if isinstance(result, Status)
                        else (200, result)
                    )
                    IdempotencyRecord.objects.create(
                        scope=full_scope,
                        key=key,
                        request_hash=fingerprint,
                        status_code=status,
                        response_body=_jsonable(_serialize(body)),
                    )
            except IntegrityError:
                # A concurrent retry won the race: answer with what it stored.
                existing = IdempotencyRecord.objects.get(scope=full_scope, key=key)
                return _replay(existing, fingerprint)
            return result

        return wrapper

    return decorator


def _serialize(body: Any) -> Any:
    if hasattr(body, "model_dump"):
        return body.model_dump(mode="json")
    return body


def _replay(record: IdempotencyRecord, fingerprint: str) -> Status[Any]:
    if record.request_hash != fingerprint:
        raise IdempotencyConflictError("Idempotency-Key was already used with a different request")
    return Status(record.status_code or 200, record.response_body)
