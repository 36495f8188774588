"""Schemas shared by every API surface."""

from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import Field


class ErrorOut(Schema):
    """The one error shape: a stable machine code, a human message and structured details."""

    code: str
    message: str
    extra: dict[str, Any] = Field(default_factory=dict)


class TokenPairOut(Schema):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


class LoginIn(Schema):
    username: str
    password: str


class RefreshIn(Schema):
    refresh_token: str


ERROR_CODES = frozenset({400, 401, 403, 404, 409, 422, 429})
