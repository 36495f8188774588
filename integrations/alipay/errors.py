"""What the Alipay adapter raises: plain exceptions, mapped to API errors by the product layers."""

from __future__ import annotations


class AlipayError(Exception):
    """Base of every Alipay adapter error."""

    def __init__(self, message: str, *, code: str = "", sub_code: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.sub_code = sub_code


class AlipayRejectedError(AlipayError):
    """Alipay refused the call (a business or argument error: do not retry unchanged)."""


class AlipayUnavailableError(AlipayError):
    """Alipay could not be reached or answered with no usable body (retryable)."""


class AlipaySignatureError(AlipayError):
    """Alipay's answer did not carry a valid RSA2 signature of Alipay's key."""
