"""A local stand-in for `api.weixin.qq.com`: mini-program code-to-session and the access token.

`GET /sns/jscode2session` checks appid, secret and grant_type as WeChat does and answers a known
code once with `{openid, session_key[, unionid]}`; an unknown code gets `{"errcode": 40029}`, a
used one 40163, a wrong appid 40013, a wrong secret 40125 (HTTP 200, as WeChat answers errors).
`GET /cgi-bin/token` hands out access tokens for the same app. For tests and the demo:

    with FakeWeChat(app_id="wx-test", app_secret="s3cret") as fake:
        fake.add_code("code-1", openid="o-1", unionid="u-1")
        ... WeChatConfig(app_id="wx-test", app_secret="s3cret", api_base=fake.api_base) ...
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from integrations.fake_server import LocalHttpFake


@dataclass(frozen=True)
class _Login:
    openid: str
    unionid: str | None
    session_key: str


@dataclass
class FakeWeChat(LocalHttpFake):
    """A threaded HTTP server on 127.0.0.1 answering like WeChat's server API."""

    app_id: str
    app_secret: str
    calls: list[str] = field(default_factory=list)  # paths requested, in order
    _codes: dict[str, _Login] = field(default_factory=dict)
    _used: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def add_code(
        self, code: str, *, openid: str, unionid: str | None = None, session_key: str | None = None
    ) -> None:
        """Make `code` a valid one-time login code for this user."""
        with self._lock:
            self._codes[code] = _Login(
                openid=openid,
                unionid=unionid,
                session_key=session_key or secrets.token_urlsafe(16),
            )

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeWeChat:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                status, body = fake._route(url.path, query)
                payload = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._serve(Handler)
        return self

    @property
    def api_base(self) -> str:
        return self._base_url()

    # --- protocol ------------------------------------------------------------------------------

    @staticmethod
    def _error(errcode: int, errmsg: str) -> tuple[int, dict[str, Any]]:
        return 200, {"errcode": errcode, "errmsg": f"{errmsg}, rid: {secrets.token_hex(12)}"}

    def _check_app(self, query: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
        if not query.get("appid"):
            return self._error(41002, "appid missing")
        if query["appid"] != self.app_id:
            return self._error(40013, "invalid appid")
        if not query.get("secret"):
            return self._error(41004, "appsecret missing")
        if query["secret"] != self.app_secret:
            return self._error(40125, "invalid appsecret")
        return None

    def _route(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.calls.append(path)
        if path == "/sns/jscode2session":
            return self._jscode2session(query)
        if path == "/cgi-bin/token":
            if (refused := self._check_app(query)) is not None:
                return refused
            if query.get("grant_type") != "client_credential":
                return self._error(40002, "invalid grant_type")
            return 200, {"access_token": secrets.token_urlsafe(48), "expires_in": 7200}
        return 404, {"errcode": 404, "errmsg": "not found"}

    def _jscode2session(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if (refused := self._check_app(query)) is not None:
            return refused
        if query.get("grant_type") != "authorization_code":
            return self._error(40002, "invalid grant_type")
        code = query.get("js_code", "")
        if not code:
            return self._error(41008, "missing code")
        with self._lock:
            if code in self._used:
                return self._error(40163, "code been used")
            login = self._codes.pop(code, None)
            if login is None:
                return self._error(40029, "invalid code")
            self._used.add(code)
        body: dict[str, Any] = {"session_key": login.session_key, "openid": login.openid}
        if login.unionid:
            body["unionid"] = login.unionid
        return 200, body
