"""Why a WeChat call failed: the login code, our configuration, or WeChat being unavailable."""

from __future__ import annotations


class WeChatError(Exception):
    """A WeChat call failed. `errcode` is WeChat's code (None when no answer came)."""

    retryable = False

    def __init__(self, message: str, *, errcode: int | None) -> None:
        super().__init__(f"{message} (errcode {errcode})")
        self.errcode = errcode


class WeChatCodeInvalidError(WeChatError):
    """The login code is unknown, expired or used (40029, 40163): the app must call wx.login."""


class WeChatRejectedError(WeChatError):
    """WeChat refused the call for a reason a retry cannot fix (app id/secret, risky user)."""


class WeChatUnavailableError(WeChatError):
    """WeChat was slow, busy or unreachable (-1, 45011, 5xx, timeouts): try again later."""

    retryable = True
