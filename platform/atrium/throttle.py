"""Login throttling in Redis: a window of failed attempts per (surface, username) and per IP."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from atrium.crypto import sha256_hex
from atrium.errors import ThrottledError


def _keys(*, surface: str, username: str, ip: str) -> tuple[str, str]:
    # Hash the username so the cache holds no identifiers in clear.
    return (
        f"login-fail:{surface}:u:{sha256_hex(username.lower())}",
        f"login-fail:{surface}:ip:{sha256_hex(ip)}",
    )


def check_login_allowed(*, surface: str, username: str, ip: str) -> None:
    """Raises ThrottledError when too many recent failures came for this username or IP."""
    user_key, ip_key = _keys(surface=surface, username=username, ip=ip)
    counts = cache.get_many([user_key, ip_key])
    limit = settings.LOGIN_THROTTLE_ATTEMPTS
    if counts.get(user_key, 0) >= limit or counts.get(ip_key, 0) >= limit * 4:
        raise ThrottledError(
            "too many failed logins; try again later",
            retry_after=settings.LOGIN_THROTTLE_WINDOW_SECONDS,
        )


def record_login_failure(*, surface: str, username: str, ip: str) -> None:
    """Count one failed login in the window."""
    window = settings.LOGIN_THROTTLE_WINDOW_SECONDS
    for key in _keys(surface=surface, username=username, ip=ip):
        if not cache.add(key, 1, timeout=window):
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, timeout=window)


def clear_login_failures(*, surface: str, username: str) -> None:
    """Forget failures after a successful login."""
    cache.delete(_keys(surface=surface, username=username, ip="")[0])
