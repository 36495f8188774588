"""A local stand-in for Aliyun's Dysms endpoint that checks requests the way Aliyun does.

It speaks the RPC protocol of `SendSms` (GET query or form POST), verifies the signature with its
own implementation of Aliyun's documented percent-encoding (URLEncoder, then `+`→`%20`,
`*`→`%2A`, `%7E`→`~`), refuses unknown keys, stale timestamps and reused nonces, checks the sign
name, template and variables, and records every accepted message. Errors come back with Aliyun's
codes and HTTP statuses. For tests and the demo:

    with FakeAliyunSms(access_keys={"LTAI-test": "secret"}, sign_name="Atrium",
                       templates={"SMS_1": "您的验证码为${code}"}) as fake:
        ... AliyunConfig(endpoint=fake.endpoint, ...) ...
        fake.messages[-1].phone
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlsplit

from integrations.fake_server import LocalHttpFake

TIMESTAMP_TOLERANCE = dt.timedelta(minutes=15)
_REQUIRED = (
    "AccessKeyId",
    "Action",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "Timestamp",
    "Version",
    "Signature",
)
_MAINLAND = re.compile(r"^1\d{10}$")
_INTERNATIONAL = re.compile(r"^00\d{6,16}$")
_VARIABLE = re.compile(r"\$\{(\w+)\}")


@dataclass(frozen=True)
class FakeSms:
    """One message the fake accepted."""

    phone: str
    sign_name: str
    template_code: str
    template_param: dict[str, str]
    text: str
    biz_id: str


@dataclass
class _Failure:
    code: str
    status: int
    remaining: int


def aliyun_percent_encode(value: str) -> str:
    """Aliyun's documented encoding, built from URLEncoder semantics (independent of the client)."""
    return quote_plus(value, safe="*").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def aliyun_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    canonical = "&".join(
        f"{aliyun_percent_encode(k)}={aliyun_percent_encode(v)}"
        for k, v in sorted(params.items())
        if k != "Signature"
    )
    return f"{method}&{aliyun_percent_encode('/')}&{aliyun_percent_encode(canonical)}"


class AliyunError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class FakeAliyunSms(LocalHttpFake):
    """A threaded HTTP server on 127.0.0.1 that behaves like `dysmsapi.aliyuncs.com`."""

    access_keys: Mapping[str, str]
    sign_name: str
    templates: Mapping[str, str]  # TemplateCode -> text with ${variables}
    messages: list[FakeSms] = field(default_factory=list)
    delay_seconds: float = 0.0
    _nonces: dict[str, float] = field(default_factory=dict)
    _failures: list[_Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeAliyunSms:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self, "GET", urlsplit(self.path).query)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fake._handle(self, "POST", self.rfile.read(length).decode("utf-8"))

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep test output quiet (and numbers out of logs)

        self._serve(Handler)
        return self

    @property
    def endpoint(self) -> str:
        return f"{self._base_url()}/"

    def fail_next(self, code: str, *, status: int = 200, count: int = 1) -> None:
        """Answer the next `count` valid requests with this Aliyun error code."""
        with self._lock:
            self._failures.append(_Failure(code=code, status=status, remaining=count))

    # --- protocol ------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str, raw: str) -> None:
        request_id = str(uuid.uuid4()).upper()
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        try:
            params = dict(parse_qsl(raw, keep_blank_values=True))
            body = self._send_sms(method, params)
            status = 200
        except AliyunError as exc:
            status = exc.status
            body = {"Code": exc.code, "Message": exc.message}
        body = {"RequestId": request_id, **body}
        payload = json.dumps(body, ensure_ascii=False).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json;charset=utf-8")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _authenticate(self, method: str, params: Mapping[str, str]) -> None:
        for name in _REQUIRED:
            if not params.get(name):
                raise AliyunError(400, f"Missing{name}", f"{name} is mandatory for this action.")
        if params["SignatureMethod"] != "HMAC-SHA1":
            raise AliyunError(
                400, "InvalidSignatureMethod", "Specified signature method is not supported."
            )
        if params["SignatureVersion"] != "1.0":
            raise AliyunError(
                400, "InvalidSignatureVersion", "Specified signature version is not supported."
            )
        secret = self.access_keys.get(params["AccessKeyId"])
        if secret is None:
            raise AliyunError(
                404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
            )
        try:
            stamp = dt.datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=dt.UTC
            )
        except ValueError as exc:
            raise AliyunError(
                400, "InvalidTimeStamp.Format", "Specified time stamp is not valid."
            ) from exc
        if abs(dt.datetime.now(dt.UTC) - stamp) > TIMESTAMP_TOLERANCE:
            raise AliyunError(
                400, "InvalidTimeStamp.Expired", "Specified time stamp or date header is expired."
            )
        string_to_sign = aliyun_string_to_sign(method, params)
        expected = base64.b64encode(
            hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
        ).decode()
        if not hmac.compare_digest(expected, params["Signature"]):
            raise AliyunError(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation. "
                f"server string to sign is:{string_to_sign}",
            )
        now = time.monotonic()
        with self._lock:
            self._nonces = {n: t for n, t in self._nonces.items() if now - t < 900}
            if params["SignatureNonce"] in self._nonces:
                raise AliyunError(
                    400, "SignatureNonceUsed", "Specified signature nonce was used already."
                )
            self._nonces[params["SignatureNonce"]] = now

    def _send_sms(self, method: str, params: Mapping[str, str]) -> dict[str, str]:
        self._authenticate(method, params)
        if params["Action"] != "SendSms":
            raise AliyunError(404, "InvalidAction.NotFound", "Specified api is not found.")
        if params["Version"] != "2017-05-25":
            raise AliyunError(400, "InvalidVersion", "Specified parameter Version is not valid.")
        with self._lock:
            if self._failures:
                failure = self._failures[0]
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.pop(0)
                raise AliyunError(failure.status, failure.code, "injected failure")
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not params.get(name):
                raise AliyunError(400, f"Missing{name}", f"{name} is mandatory for this action.")
        phones = params["PhoneNumbers"].split(",")
        if not all(_MAINLAND.match(p) or _INTERNATIONAL.match(p) for p in phones):
            return {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"}
        if params["SignName"] != self.sign_name:
            return {"Code": "isv.SMS_SIGNATURE_ILLEGAL", "Message": "该账号下找不到对应签名"}
        template = self.templates.get(params["TemplateCode"])
        if template is None:
            return {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "该账号下找不到对应模板"}
        try:
            values = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            return {"Code": "isv.INVALID_JSON_PARAM", "Message": "JSON参数不合法"}
        if not isinstance(values, dict):
            return {"Code": "isv.INVALID_JSON_PARAM", "Message": "JSON参数不合法"}
        missing = [name for name in _VARIABLE.findall(template) if name not in values]
        if missing:
            return {"Code": "isv.TEMPLATE_MISSING_PARAMETERS", "Message": "模板变量缺少对应参数值"}
        text = f"【{self.sign_name}】" + _VARIABLE.sub(lambda m: str(values[m.group(1)]), template)
        biz_id = f"{int(time.time() * 1000)}^{uuid.uuid4().int % 10**10}"
        with self._lock:
            for phone in phones:
                self.messages.append(
                    FakeSms(
                        phone=phone,
                        sign_name=params["SignName"],
                        template_code=params["TemplateCode"],
                        template_param={k: str(v) for k, v in values.items()},
                        text=text,
                        biz_id=biz_id,
                    )
                )
        return {"Code": "OK", "Message": "OK", "BizId": biz_id}


__all__ = ["FakeAliyunSms", "FakeSms"]
