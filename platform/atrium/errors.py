"""Domain errors with stable codes, rendered as `{code, message, extra}` by every API."""

from __future__ import annotations


class DomainError(Exception):
    """A rule a service refused to break; rendered by the handler in `atrium.api`."""

    code = "domain_error"
    http_status = 400

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class InvalidInputError(DomainError):
    code, http_status = "request.invalid", 400


class NotFoundError(DomainError):
    code, http_status = "not_found", 404


class ConflictError(DomainError):
    code, http_status = "conflict", 409


class AuthenticationError(DomainError):
    code, http_status = "auth.unauthenticated", 401


class PermissionDeniedError(DomainError):
    code, http_status = "auth.forbidden", 403


class ThrottledError(DomainError):
    code, http_status = "auth.throttled", 429


class IdempotencyConflictError(DomainError):
    code, http_status = "idempotency.conflict", 409


class IdempotencyKeyInvalidError(DomainError):
    code, http_status = "idempotency.key_invalid", 400


class TenantRequiredError(DomainError):
    """Tenant work (a task, an outbox event) was started without a tenant schema."""

    code, http_status = "tenant.required", 500
