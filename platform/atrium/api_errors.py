"""Map every exception an API can raise to `{code, message, extra}` in one place."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError as NinjaAuthenticationError
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError

from atrium.errors import DomainError

logger = logging.getLogger("atrium.api")


def _body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "extra": extra}


def install_error_handlers(api: NinjaAPI) -> None:
    """Register the shared handlers on one NinjaAPI."""

    def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
        return api.create_response(
            request, _body(exc.code, exc.message, **exc.extra), status=exc.http_status
        )

    def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        errors = [
            {"loc": [str(part) for part in error.get("loc", ())], "msg": error.get("msg", "")}
            for error in exc.errors
        ]
        return api.create_response(
            request, _body("request.invalid", "the request is not valid", errors=errors), status=422
        )

    def unauthenticated(request: HttpRequest, exc: NinjaAuthenticationError) -> HttpResponse:
        return api.create_response(
            request,
            _body("auth.unauthenticated", "authentication credentials are missing or invalid"),
            status=401,
        )

    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        # ninja raises HttpError(400) for bodies it cannot parse as JSON.
        code = "request.malformed" if exc.status_code == 400 else f"http.{exc.status_code}"
        return api.create_response(request, _body(code, str(exc)), status=exc.status_code)

    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return api.create_response(request, _body("not_found", "not found"), status=404)

    def server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
        # Reported to Sentry by its Django integration via the logger; the client gets no trace.
        logger.error("api.unhandled_error", extra={"path": request.path})
        return api.create_response(
            request, _body("server_error", "an unexpected error occurred"), status=500
        )

    handlers: list[tuple[type[Exception], Callable[[HttpRequest, Any], HttpResponse]]] = [
        (DomainError, domain_error),
        (NinjaValidationError, validation_error),
        (NinjaAuthenticationError, unauthenticated),
        (HttpError, http_error),
        (Http404, not_found),
        (Exception, server_error),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)
