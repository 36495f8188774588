"""The Alipay open-platform calls settlement pays merchants with: royalty (分账) receivers and
royalty settle (`alipay.trade.order.settle`), and its query.

Built on `alipay-sdk-python` for what it does well: its request classes build each method's
parameters and `get_sign_content` builds the exact string Alipay signs. Signing, transport and
answer verification are ours (docs/adr/0013-alipay-adapter.md): the SDK's transport ignores the
port of the gateway URL (a URL with a port raises), answers a non-200 status with `TypeError`,
and signs in pure Python (about 37 ms a call); here RSA2 (SHA256withRSA) runs on `cryptography`
and the gateway URL is used as given, so tests and the demo reach the local fake in `fake.py`.

Royalty limits (the rail's own, not ours): by default at most 30% of an order may go to split
receivers, and only to receivers bound first with `alipay.trade.royalty.relation.bind`.
`royalty_capacity` says how much of a payout the rail can carry; the rest goes to the bank file.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from alipay.aop.api.request.AlipayTradeOrderSettleQueryRequest import (
    AlipayTradeOrderSettleQueryRequest,
)
from alipay.aop.api.request.AlipayTradeOrderSettleRequest import AlipayTradeOrderSettleRequest
from alipay.aop.api.request.AlipayTradeRoyaltyRelationBindRequest import (
    AlipayTradeRoyaltyRelationBindRequest,
)
from alipay.aop.api.util.SignatureUtils import get_sign_content
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from integrations.alipay.errors import (
    AlipayError,
    AlipayRejectedError,
    AlipaySignatureError,
    AlipayUnavailableError,
)

__all__ = [
    "DEFAULT_ROYALTY_RATIO",
    "AlipayClient",
    "AlipayConfig",
    "AlipayError",
    "AlipayRejectedError",
    "AlipaySignatureError",
    "AlipayUnavailableError",
    "RoyaltyReceiver",
    "RoyaltyTransfer",
    "SettleResult",
    "SettleState",
    "royalty_capacity",
    "sign_rsa2",
    "verify_rsa2",
]

logger = logging.getLogger("integrations.alipay")

DEFAULT_GATEWAY = "https://openapi.alipay.com/gateway.do"
DEFAULT_ROYALTY_RATIO = Decimal("0.30")  # the rail's default cap: 30% of an order to receivers
SUCCESS = "10000"
CENT = Decimal("0.01")
_SHANGHAI = ZoneInfo("Asia/Shanghai")  # Alipay reads `timestamp` as Beijing time


def _pem(key: str, kind: str) -> bytes:
    key = key.strip()
    if key.startswith("-----"):
        return key.encode()
    body = "\n".join(key[i : i + 64] for i in range(0, len(key), 64))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n".encode()


def _private_key(key: str) -> rsa.RSAPrivateKey:
    loaded = serialization.load_pem_private_key(_pem(key, "RSA PRIVATE KEY"), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError("the Alipay app private key must be an RSA key")
    return loaded


def _public_key(key: str) -> rsa.RSAPublicKey:
    loaded = serialization.load_pem_public_key(_pem(key, "PUBLIC KEY"))
    if not isinstance(loaded, rsa.RSAPublicKey):
        raise ValueError("the Alipay public key must be an RSA key")
    return loaded


def sign_rsa2(private_key: str, content: str) -> str:
    """Alipay's RSA2: SHA256withRSA (PKCS#1 v1.5) over the UTF-8 content, base64."""
    signature = _private_key(private_key).sign(
        content.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    return base64.b64encode(signature).decode()


def verify_rsa2(public_key: str, content: bytes, signature: str) -> bool:
    """True when `signature` is an RSA2 signature of `content` by `public_key` (SHA1 refused)."""
    try:
        _public_key(public_key).verify(
            base64.b64decode(signature), content, padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def royalty_capacity(
    order_amounts: Iterable[Decimal], *, ratio: Decimal = DEFAULT_ROYALTY_RATIO
) -> Decimal:
    """How much the rail can split to receivers out of these orders: each order's share rounded
    down to the cent (the rail refuses a cent over the cap)."""
    return sum(
        ((amount * ratio).quantize(CENT, rounding=ROUND_DOWN) for amount in order_amounts),
        Decimal("0.00"),
    )


@dataclass(frozen=True)
class AlipayConfig:
    app_id: str
    app_private_key: str  # PEM or bare base64 (PKCS#1 as Alipay's tools export it, or PKCS#8)
    alipay_public_key: str  # Alipay's key: PEM or bare base64 SubjectPublicKeyInfo
    gateway: str = DEFAULT_GATEWAY
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if urlsplit(self.gateway).scheme not in {"http", "https"}:
            raise ValueError("the Alipay gateway must be an http(s) URL")

    def __repr__(self) -> str:  # keep the private key out of tracebacks and logs
        return f"AlipayConfig(app_id={self.app_id!r}, gateway={self.gateway!r})"


@dataclass(frozen=True)
class RoyaltyReceiver:
    """A split receiver: an Alipay user id (2088…) or login name, with its real name."""

    account: str
    name: str
    account_type: str = "userId"  # or "loginName"
    memo: str = ""


@dataclass(frozen=True)
class RoyaltyTransfer:
    """One transfer of a royalty settle: `amount` of the order to a bound receiver."""

    receiver: RoyaltyReceiver
    amount: Decimal
    desc: str = ""


@dataclass(frozen=True)
class SettleResult:
    trade_no: str
    settle_no: str
    out_request_no: str


@dataclass(frozen=True)
class SettleState:
    out_request_no: str
    operation_dt: str
    details: list[dict[str, Any]] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return bool(self.details) and all(d.get("state") == "SUCCESS" for d in self.details)


class AlipayClient:
    """One app's calls to the Alipay gateway."""

    def __init__(self, config: AlipayConfig) -> None:
        self.config = config

    # -- the calls -------------------------------------------------------------------------

    def bind_receivers(self, receivers: Sequence[RoyaltyReceiver], *, out_request_no: str) -> None:
        """Bind split receivers to this app (idempotent on Alipay's side per receiver)."""
        request = AlipayTradeRoyaltyRelationBindRequest()
        request.add_other_text_param(
            "biz_content",
            _json(
                {
                    "out_request_no": out_request_no,
                    "receiver_list": [
                        {
                            "type": r.account_type,
                            "account": r.account,
                            "name": r.name,
                            **({"memo": r.memo} if r.memo else {}),
                        }
                        for r in receivers
                    ],
                }
            ),
        )
        self._execute(request.get_params())

    def order_settle(
        self,
        *,
        trade_no: str,
        out_request_no: str,
        transfers: Sequence[RoyaltyTransfer],
        finish: bool = False,
    ) -> SettleResult:
        """Split part of a paid order to bound receivers (`finish` unfreezes the rest)."""
        biz: dict[str, Any] = {
            "out_request_no": out_request_no,
            "trade_no": trade_no,
            "royalty_parameters": [
                {
                    "royalty_type": "transfer",
                    "trans_in_type": t.receiver.account_type,
                    "trans_in": t.receiver.account,
                    "trans_in_name": t.receiver.name,
                    "amount": str(t.amount.quantize(CENT)),
                    **({"desc": t.desc} if t.desc else {}),
                }
                for t in transfers
            ],
        }
        if finish:
            biz["extend_params"] = {"royalty_finish": "true"}
        request = AlipayTradeOrderSettleRequest()
        # Written as text: the SDK's models silently drop "0" and False values.
        request.add_other_text_param("biz_content", _json(biz))
        answer = self._execute(request.get_params())
        return SettleResult(
            trade_no=str(answer.get("trade_no", trade_no)),
            settle_no=str(answer.get("settle_no", "")),
            out_request_no=out_request_no,
        )

    def settle_query(self, *, trade_no: str, out_request_no: str) -> SettleState:
        request = AlipayTradeOrderSettleQueryRequest()
        request.add_other_text_param(
            "biz_content", _json({"trade_no": trade_no, "out_request_no": out_request_no})
        )
        answer = self._execute(request.get_params())
        return SettleState(
            out_request_no=str(answer.get("out_request_no", out_request_no)),
            operation_dt=str(answer.get("operation_dt", "")),
            details=list(answer.get("royalty_detail_list") or []),
        )

    # -- the protocol ----------------------------------------------------------------------

    def signed_params(self, params: dict[str, Any]) -> dict[str, str]:
        """The request's form fields: common parameters, biz_content and the RSA2 `sign`."""
        fields = {
            "app_id": self.config.app_id,
            "method": str(params["method"]),
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": dt.datetime.now(_SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
            "version": str(params.get("version") or "1.0"),
        }
        for key, value in params.items():
            if key not in fields and value is not None and value != "":
                fields[key] = value if isinstance(value, str) else _json(value)
        fields["sign"] = sign_rsa2(self.config.app_private_key, get_sign_content(fields))
        return fields

    def _execute(self, params: dict[str, Any]) -> dict[str, Any]:
        method = str(params["method"])
        body = urlencode(self.signed_params(params)).encode()
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in AlipayConfig
            self.config.gateway,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout) as response:  # noqa: S310
                raw = response.read().decode()
        except urllib.error.HTTPError as exc:
            raise AlipayUnavailableError(f"Alipay answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise AlipayUnavailableError("Alipay could not be reached") from exc
        answer = self._verified(raw, method)
        code = str(answer.get("code", ""))
        logger.info("alipay.call", extra={"method": method, "code": code})
        if code != SUCCESS:
            sub_code = str(answer.get("sub_code", ""))
            raise AlipayRejectedError(
                str(answer.get("sub_msg") or answer.get("msg") or "Alipay refused the call"),
                code=code,
                sub_code=sub_code,
            )
        return answer

    def _verified(self, raw: str, method: str) -> dict[str, Any]:
        """The `<method>_response` object, after checking Alipay's signature over its exact text
        (Alipay signs the raw JSON substring, not a re-serialisation)."""
        key = f'"{method.replace(".", "_")}_response"'
        start = raw.find(key)
        if start < 0:
            raise AlipayUnavailableError("Alipay answered without a response object")
        value_start = raw.index(":", start + len(key)) + 1
        while raw[value_start] in " \t\r\n":
            value_start += 1
        try:
            answer, end = json.JSONDecoder().raw_decode(raw, value_start)
            document = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise AlipayUnavailableError("Alipay answered with broken JSON") from exc
        if not isinstance(answer, dict):
            raise AlipayUnavailableError("Alipay answered with a non-object response")
        signature = document.get("sign")
        if not isinstance(signature, str) or not verify_rsa2(
            self.config.alipay_public_key, raw[value_start:end].encode(), signature
        ):
            raise AlipaySignatureError("Alipay's answer is not signed by Alipay's key")
        return answer


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def new_request_no() -> str:
    return uuid.uuid4().hex
