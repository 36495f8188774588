"""Aliyun Dysms `SendSms` over HTTPS, signed with Aliyun's RPC signature version 1.0.

The request is a form-encoded POST of the common parameters (AccessKeyId, Action, Format, RegionId,
SignatureMethod=HMAC-SHA1, SignatureNonce, SignatureVersion=1.0, Timestamp in UTC, Version) and
the action's own (PhoneNumbers, SignName, TemplateCode, TemplateParam as JSON). The signature is
Base64(HMAC-SHA1(secret + "&", "POST&%2F&" + percent(canonical query))), where the canonical query
is the parameters sorted by name, each name and value percent-encoded as RFC 3986 asks (UTF-8,
space as %20, `*` as %2A, `~` kept), joined by `=` and `&`.

Aliyun answers `{"Code": "OK", "BizId": ...}` on success, and `{"Code": <error>, "Message": ...}`
otherwise: with HTTP 200 for business refusals (`isv.*`), 4xx for request and signature errors,
5xx for its own failures. Errors are sorted into retryable (our request was fine; try later) and
terminal (retrying the same request cannot succeed).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from integrations.sms.errors import SmsRejectedError, SmsRetryableError

API_VERSION = "2017-05-25"
DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
DEFAULT_REGION = "cn-hangzhou"

# Aliyun codes after which the same request may succeed later (its side, throttling, a nonce
# collision); every other code means our request or account is wrong.
RETRYABLE_CODES = frozenset(
    {
        "isp.SYSTEM_ERROR",
        "isv.BUSINESS_LIMIT_CONTROL",
        "Throttling",
        "Throttling.Api",
        "Throttling.User",
        "ServiceUnavailable",
        "InternalError",
        "SignatureNonceUsed",
    }
)


@dataclass(frozen=True)
class AliyunConfig:
    access_key_id: str
    access_key_secret: str
    sign_name: str
    templates: Mapping[str, str]  # our template name -> Aliyun TemplateCode
    endpoint: str = DEFAULT_ENDPOINT
    region: str = DEFAULT_REGION
    timeout: float = 5.0

    def __post_init__(self) -> None:
        if urllib.parse.urlsplit(self.endpoint).scheme not in {"http", "https"}:
            raise ValueError("the Aliyun SMS endpoint must be an http(s) URL")


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun's RPC signature requires (only A-Z a-z 0-9 - _ . ~ kept)."""
    return urllib.parse.quote(value, safe="~")


def canonical_query(params: Mapping[str, str]) -> str:
    """The parameters sorted by name, encoded and joined (the signature's input)."""
    return "&".join(
        f"{percent_encode(key)}={percent_encode(params[key])}" for key in sorted(params)
    )


def sign(*, method: str, params: Mapping[str, str], secret: str) -> str:
    """Aliyun RPC signature v1: Base64 HMAC-SHA1 over method, "/" and the canonical query."""
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed_params(
    *,
    config: AliyunConfig,
    action_params: Mapping[str, str],
    now: dt.datetime | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The full form of one `SendSms` call, `Signature` included."""
    moment = now or dt.datetime.now(dt.UTC)
    params = {
        "AccessKeyId": config.access_key_id,
        "Action": "SendSms",
        "Format": "JSON",
        "RegionId": config.region,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "SignatureVersion": "1.0",
        "Timestamp": moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": API_VERSION,
        **action_params,
    }
    params["Signature"] = sign(method="POST", params=params, secret=config.access_key_secret)
    return params


def send_sms(*, config: AliyunConfig, phone: str, template: str, params: Mapping[str, str]) -> str:
    """Send one templated message; returns Aliyun's BizId.

    Raises SmsRetryableError (timeouts, 5xx, throttling) or SmsRejectedError (everything else).
    """
    template_code = config.templates.get(template)
    if not template_code:
        raise SmsRejectedError("no Aliyun template configured", code="template_not_configured")
    form = signed_params(
        config=config,
        action_params={
            "PhoneNumbers": phone,
            "SignName": config.sign_name,
            "TemplateCode": template_code,
            "TemplateParam": json.dumps(dict(params), ensure_ascii=False, separators=(",", ":")),
        },
    )
    status, body = _post(config, urllib.parse.urlencode(form, quote_via=urllib.parse.quote))
    try:
        answer = json.loads(body)
    except ValueError as exc:
        if status >= 500:
            raise SmsRetryableError(
                "Aliyun answered with an error page", code=f"http_{status}"
            ) from exc
        raise SmsRejectedError("Aliyun answered with no JSON", code=f"http_{status}") from exc
    code = str(answer.get("Code", ""))
    if code == "OK" and status == 200:
        return str(answer.get("BizId", ""))
    if status >= 500 or code in RETRYABLE_CODES:
        raise SmsRetryableError(
            "Aliyun could not send the message now", code=code or f"http_{status}"
        )
    raise SmsRejectedError("Aliyun refused the message", code=code or f"http_{status}")


def _post(config: AliyunConfig, body: str) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked in AliyunConfig
        config.endpoint,
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=config.timeout) as response:  # noqa: S310 - checked scheme
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()
    except TimeoutError as exc:
        raise SmsRetryableError("Aliyun did not answer in time", code="timeout") from exc
    except urllib.error.URLError as exc:
        code = "timeout" if isinstance(exc.reason, TimeoutError) else "unreachable"
        raise SmsRetryableError("Aliyun could not be reached", code=code) from exc
    except ConnectionError as exc:
        raise SmsRetryableError("the connection to Aliyun failed", code="connection") from exc
