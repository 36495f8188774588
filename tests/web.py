"""Helpers for tests of the server-rendered pages: a browser-like Django client on one host."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test import Client

from tests.conftest import PASSWORD

LOGIN_PATHS = {"console": "/console/login/", "merchant": "/merchant/login/", "provider": "/login/"}


class Browser:
    """The Django test client aimed at one host, keeping cookies like a browser does."""

    def __init__(self, host: str, *, enforce_csrf_checks: bool = False) -> None:
        self.host = host
        self.client = Client(HTTP_HOST=host, enforce_csrf_checks=enforce_csrf_checks)

    def get(self, path: str, **extra: Any) -> Any:
        response = self.client.get(path, **extra)
        connection.set_schema_to_public()
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **extra: Any) -> Any:
        response = self.client.post(path, data or {}, **extra)
        connection.set_schema_to_public()
        return response

    def sign_in(self, surface: str, username: str, password: str = PASSWORD) -> Any:
        return self.post(LOGIN_PATHS[surface], {"username": username, "password": password})

    def use_language(self, code: str) -> None:
        self.client.cookies["django_language"] = code

    @property
    def session_cookie(self) -> str:
        return self.client.cookies["sessionid"].value


def text(response: Any) -> str:
    return response.content.decode()
