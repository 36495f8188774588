"""Per-request context for logs: a request id (echoed as `X-Request-ID`) and the tenant."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from atrium.logging import actor_var, request_id_var, tenant_var

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id_for(incoming: str) -> str:
    """The caller's `X-Request-ID` when it is a sane one, else a new id."""
    return incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex


class RequestContextMiddleware:
    """Binds request id, tenant and actor for every log line of the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request.headers.get("X-Request-ID", ""))
        tokens = (request_id_var.set(request_id), tenant_var.set("public"), actor_var.set(""))
        try:
            response = self.get_response(request)
            tenant = getattr(request, "tenant", None)
            if tenant is not None:
                tenant_var.set(tenant.slug)
            response["X-Request-ID"] = request_id
            return response
        finally:
            request_id_var.reset(tokens[0])
            tenant_var.reset(tokens[1])
            actor_var.reset(tokens[2])
