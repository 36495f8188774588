"""A local stand-in for Alipay's open-platform gateway, for the royalty calls settlement makes.

It speaks the gateway's protocol: a form POST with the common parameters, `biz_content` as JSON
and an RSA2 `sign` over the sorted, non-empty parameters (all but `sign`), checked against the
app's public key with its own implementation of the sign string. It answers
`{"<method>_response": {...}, "sign": "..."}` signed with its own freshly generated Alipay key
(`alipay_public_key`), enforces that receivers are bound before a settle and that the splits of
an order stay within the royalty ratio (30% by default), treats a repeated `out_request_no` as
the same request, and records every settle. Keys are made at start, never stored:

    with FakeAlipayGateway(app_id="2021000000000001", app_public_key=pem) as fake:
        fake.add_trade("2026112322001", Decimal("100.00"))
        ... AlipayConfig(gateway=fake.gateway, alipay_public_key=fake.alipay_public_key, ...) ...
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from integrations.fake_server import LocalHttpFake

ROYALTY_RATIO = Decimal("0.30")
_REQUIRED = ("app_id", "method", "charset", "sign_type", "sign", "timestamp", "version")


def generate_rsa_keypair() -> tuple[str, str]:
    """A fresh RSA-2048 pair: (PKCS#1 private PEM, SubjectPublicKeyInfo public PEM), as Alipay's
    key tool exports them. For tests and the demo only."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@dataclass
class FakeSettle:
    trade_no: str
    out_request_no: str
    settle_no: str
    transfers: list[dict[str, Any]]
    finish: bool


@dataclass
class _Trade:
    amount: Decimal
    split: Decimal = Decimal("0.00")
    finished: bool = False


@dataclass
class _State:
    trades: dict[str, _Trade] = field(default_factory=dict)
    bound: set[str] = field(default_factory=set)
    settles: dict[tuple[str, str], FakeSettle] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)


class FakeAlipayGateway(LocalHttpFake):
    def __init__(self, *, app_id: str, app_public_key: str, ratio: Decimal = ROYALTY_RATIO) -> None:
        self.app_id = app_id
        self._app_key = serialization.load_pem_public_key(app_public_key.encode())
        self.ratio = ratio
        self._alipay_private, self.alipay_public_key = generate_rsa_keypair()
        self._signer = serialization.load_pem_private_key(
            self._alipay_private.encode(), password=None
        )
        self._state = _State()
        self._lock = threading.Lock()

    @property
    def gateway(self) -> str:
        return f"{self._base_url()}/gateway.do"

    @property
    def settles(self) -> list[FakeSettle]:
        return list(self._state.settles.values())

    @property
    def bound(self) -> set[str]:
        return set(self._state.bound)

    @property
    def methods(self) -> list[str]:
        """The method of every request received, signed or not, in order."""
        return list(self._state.requests)

    def add_trade(self, trade_no: str, amount: Decimal) -> None:
        """A paid order the app may split."""
        self._state.trades[trade_no] = _Trade(amount=amount)

    def start(self) -> FakeAlipayGateway:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                params = dict(parse_qsl(body, keep_blank_values=True))
                method = params.get("method", "")
                payload = fake._answer(params)
                text = fake._signed_document(method, payload)
                data = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html;charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._serve(Handler)
        return self

    # -- protocol ---------------------------------------------------------------------------

    def _signed_document(self, method: str, payload: dict[str, Any]) -> str:
        content = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        assert isinstance(self._signer, rsa.RSAPrivateKey)  # noqa: S101 - made above
        sign = base64.b64encode(
            self._signer.sign(content.encode(), padding.PKCS1v15(), hashes.SHA256())
        ).decode()
        key = (method or "error").replace(".", "_") + "_response"
        return f'{{"{key}":{content},"sign":"{sign}"}}'

    def _check_signature(self, params: dict[str, str]) -> bool:
        content = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v != "")
        assert isinstance(self._app_key, rsa.RSAPublicKey)  # noqa: S101 - an RSA key is required
        try:
            self._app_key.verify(
                base64.b64decode(params["sign"]),
                content.encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def _answer(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self._state.requests.append(params.get("method", ""))
            missing = [k for k in _REQUIRED if not params.get(k)]
            if missing:
                return _error("40001", "Missing Required Arguments", f"isv.missing-{missing[0]}")
            if params["app_id"] != self.app_id:
                return _error("40002", "Invalid Arguments", "isv.invalid-app-id")
            if params["sign_type"] != "RSA2" or not self._check_signature(params):
                return _error("40002", "Invalid Arguments", "isv.invalid-signature")
            try:
                biz = json.loads(params.get("biz_content") or "{}")
            except json.JSONDecodeError:
                return _error("40002", "Invalid Arguments", "isv.invalid-biz-content")
            handler = {
                "alipay.trade.royalty.relation.bind": self._bind,
                "alipay.trade.order.settle": self._settle,
                "alipay.trade.order.settle.query": self._settle_query,
            }.get(params["method"])
            if handler is None:
                return _error("40002", "Invalid Arguments", "isv.invalid-method")
            return handler(biz)

    def _bind(self, biz: dict[str, Any]) -> dict[str, Any]:
        receivers = biz.get("receiver_list") or []
        if not biz.get("out_request_no") or not receivers:
            return _error("40004", "Business Failed", "ACQ.INVALID_PARAMETER")
        for receiver in receivers:
            self._state.bound.add(str(receiver["account"]))
        return {"code": "10000", "msg": "Success", "result_code": "SUCCESS"}

    def _settle(self, biz: dict[str, Any]) -> dict[str, Any]:
        trade_no, request_no = str(biz.get("trade_no", "")), str(biz.get("out_request_no", ""))
        existing = self._state.settles.get((trade_no, request_no))
        if existing is not None:  # the same request again: the same answer, nothing moves twice
            return _settle_answer(existing)
        trade = self._state.trades.get(trade_no)
        if trade is None:
            return _error("40004", "Business Failed", "ACQ.TRADE_NOT_EXIST")
        if trade.finished:
            return _error("40004", "Business Failed", "ACQ.TRADE_SETTLE_FINISHED")
        transfers = list(biz.get("royalty_parameters") or [])
        total = Decimal("0.00")
        for transfer in transfers:
            if str(transfer.get("trans_in")) not in self._state.bound:
                return _error("40004", "Business Failed", "ACQ.ROYALTY_RECEIVER_NOT_BIND")
            amount = Decimal(str(transfer.get("amount")))
            if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
                return _error("40004", "Business Failed", "ACQ.INVALID_PARAMETER")
            total += amount
        cap = (trade.amount * self.ratio).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        if trade.split + total > cap:
            return _error("40004", "Business Failed", "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR")
        trade.split += total
        finish = (biz.get("extend_params") or {}).get("royalty_finish") == "true"
        trade.finished = finish
        settle = FakeSettle(
            trade_no=trade_no,
            out_request_no=request_no,
            settle_no=uuid.uuid4().hex[:20],
            transfers=transfers,
            finish=finish,
        )
        self._state.settles[(trade_no, request_no)] = settle
        return _settle_answer(settle)

    def _settle_query(self, biz: dict[str, Any]) -> dict[str, Any]:
        key = (str(biz.get("trade_no", "")), str(biz.get("out_request_no", "")))
        settle = self._state.settles.get(key)
        if settle is None:
            return _error("40004", "Business Failed", "ACQ.TRADE_NOT_EXIST")
        return {
            "code": "10000",
            "msg": "Success",
            "out_request_no": settle.out_request_no,
            "operation_dt": "2026-11-23 10:00:00",
            "royalty_detail_list": [
                {
                    "operation_type": "transfer",
                    "execute_dt": "2026-11-23 10:00:00",
                    "trans_in": t["trans_in"],
                    "amount": t["amount"],
                    "state": "SUCCESS",
                }
                for t in settle.transfers
            ],
        }


def _settle_answer(settle: FakeSettle) -> dict[str, Any]:
    return {
        "code": "10000",
        "msg": "Success",
        "trade_no": settle.trade_no,
        "settle_no": settle.settle_no,
    }


def _error(code: str, msg: str, sub_code: str) -> dict[str, Any]:
    return {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_code}
