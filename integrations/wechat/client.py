"""WeChat mini-program login: exchange a `wx.login()` code for the user's openid and unionid.

Built on wechatpy's `WeChatClient` (its HTTP session, JSON and error handling) with two changes:
- every URL starts at a configurable base (`WECHAT_API_BASE`), so tests and the demo reach the
  local fake in `integrations.wechat.fake`; wechatpy hard-codes `api.weixin.qq.com` for the
  token URL and the mini-program API;
- `jscode2session` is called without an access token. wechatpy's `wxa.code_to_session` adds one
  and so fetches a fresh token per process, but that endpoint needs none, the token quota is
  2,000 a day, and each fetch invalidates the token other processes hold.

The session key WeChat returns is handed to the caller and never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests  # noqa: TID251 - this module is the adapter the ban points to (wechatpy's transport)
from django.conf import settings
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from integrations.wechat.errors import (
    WeChatCodeInvalidError,
    WeChatError,
    WeChatRejectedError,
    WeChatUnavailableError,
)

__all__ = [
    "WeChatCodeInvalidError",
    "WeChatConfig",
    "WeChatError",
    "WeChatRejectedError",
    "WeChatSession",
    "WeChatUnavailableError",
    "code_to_session",
    "config_from_settings",
]

logger = logging.getLogger("integrations.wechat")

DEFAULT_API_BASE = "https://api.weixin.qq.com"
CODE_INVALID = frozenset({40029, 40163})  # invalid code; code already used
RETRYABLE = frozenset({-1, 45011})  # system busy; API frequency limit


@dataclass(frozen=True)
class WeChatConfig:
    app_id: str
    app_secret: str
    api_base: str = DEFAULT_API_BASE
    timeout: float = 5.0

    def __post_init__(self) -> None:
        if urlsplit(self.api_base).scheme not in {"http", "https"}:
            raise ValueError("WECHAT_API_BASE must be an http(s) URL")

    @property
    def is_configured(self) -> bool:
        return bool(self.app_id and self.app_secret)


@dataclass(frozen=True)
class WeChatSession:
    """Who logged in: the openid (per mini-program), the unionid (per open platform account)."""

    openid: str
    unionid: str | None
    session_key: str

    def __repr__(self) -> str:  # keep the session key out of tracebacks and logs
        return f"WeChatSession(openid={self.openid!r}, unionid={self.unionid!r})"


class MiniProgramClient(WeChatClient):
    """wechatpy's client with every URL under a configurable base."""

    def __init__(self, config: WeChatConfig) -> None:
        super().__init__(config.app_id, config.app_secret, timeout=config.timeout, auto_retry=False)
        self.api_base = config.api_base.rstrip("/")
        self.API_BASE_URL = f"{self.api_base}/cgi-bin/"
        self.wxa.API_BASE_URL = f"{self.api_base}/"

    def fetch_access_token(self) -> Any:
        """The access token for calls that need one (subscribe messages), from the base URL."""
        return self._fetch_access_token(
            url=f"{self.api_base}/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )

    def jscode2session(self, js_code: str) -> dict[str, Any]:
        # `access_token: None` stops wechatpy from fetching a token; requests drops None params.
        result = self.get(
            "sns/jscode2session",
            api_base_url=f"{self.api_base}/",
            params={
                "appid": self.appid,
                "secret": self.secret,
                "js_code": js_code,
                "grant_type": "authorization_code",
                "access_token": None,
            },
        )
        if not isinstance(result, dict):
            raise WeChatUnavailableError("WeChat answered with no JSON", errcode=None)
        return result


def config_from_settings() -> WeChatConfig:
    """The mini-program's app id, secret and API base from settings."""
    return WeChatConfig(
        app_id=settings.WECHAT_APP_ID,
        app_secret=settings.WECHAT_APP_SECRET,
        api_base=settings.WECHAT_API_BASE,
        timeout=float(settings.WECHAT_TIMEOUT_SECONDS),
    )


def code_to_session(js_code: str, *, config: WeChatConfig | None = None) -> WeChatSession:
    """Exchange a login code for the user's identity.

    Raises WeChatCodeInvalidError, WeChatRejectedError (configuration, blocked user) or
    WeChatUnavailableError (retryable).
    """
    config = config or config_from_settings()
    if not config.is_configured:
        raise WeChatRejectedError("the WeChat mini-program is not configured", errcode=None)
    try:
        result = MiniProgramClient(config).jscode2session(js_code)
    except WeChatClientException as exc:
        raise _classify(exc.errcode) from exc
    except requests.RequestException as exc:
        raise WeChatUnavailableError("WeChat could not be reached", errcode=None) from exc
    openid = str(result.get("openid") or "")
    if not openid:
        raise WeChatUnavailableError("WeChat answered without an openid", errcode=None)
    logger.info("wechat.code_to_session", extra={"has_unionid": bool(result.get("unionid"))})
    return WeChatSession(
        openid=openid,
        unionid=str(result["unionid"]) if result.get("unionid") else None,
        session_key=str(result.get("session_key") or ""),
    )


def _classify(errcode: Any) -> WeChatError:
    code = int(errcode) if errcode is not None else None
    if code in CODE_INVALID:
        return WeChatCodeInvalidError("the login code is invalid or used", errcode=code)
    if code is None or code in RETRYABLE:
        return WeChatUnavailableError("WeChat is busy or unavailable", errcode=code)
    return WeChatRejectedError("WeChat refused the login", errcode=code)
