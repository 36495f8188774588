"""Why a message was not sent: retryable (try again later) or terminal (it never will be)."""

from __future__ import annotations


class SmsError(Exception):
    """A message was not sent. `code` is the provider's (or our) reason, never personal data."""

    retryable = False

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code


class SmsRetryableError(SmsError):
    """The provider was slow, down or throttling: the same request may succeed later."""

    retryable = True


class SmsRejectedError(SmsError):
    """The provider refused the request (number, template, signature, account): do not retry."""
