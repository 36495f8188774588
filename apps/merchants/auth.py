"""HMAC-signed API key authentication for POS and other machines."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from ninja.security.base import AuthBase

from apps.merchants.models import ApiKey, Merchant
from apps.merchants.services import verify_signed_request


@dataclass(frozen=True)
class MachinePrincipal:
    api_key: ApiKey

    @property
    def merchant(self) -> Merchant:
        return self.api_key.merchant

    @property
    def scope_id(self) -> str:
        return f"merchant:{self.api_key.merchant_id}"


class SignedKeyAuth(AuthBase):
    """`X-Atrium-Key`, `X-Atrium-Timestamp`, `X-Atrium-Signature` (see the README)."""

    openapi_type = "apiKey"
    openapi_in = "header"
    openapi_name = "X-Atrium-Key"

    def __call__(self, request: HttpRequest) -> MachinePrincipal | None:
        key_id = request.headers.get("X-Atrium-Key")
        timestamp = request.headers.get("X-Atrium-Timestamp")
        signature = request.headers.get("X-Atrium-Signature")
        if not (key_id and timestamp and signature):
            return None
        api_key = verify_signed_request(
            key_id=key_id,
            timestamp=timestamp,
            signature=signature,
            method=request.method or "GET",
            path=request.get_full_path(),
            body=request.body,
        )
        return MachinePrincipal(api_key=api_key)
