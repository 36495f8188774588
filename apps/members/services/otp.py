"""One-time SMS codes for member login and sensitive actions.

A code is 6 random digits, sent through `integrations.sms`, kept in Redis only as a keyed hash
for 5 minutes, and accepted once; the 6th check of a code (right or wrong) is refused. Sending is
limited per phone (one per 60 s, 10 per day) and per IP (30 per hour). Keys carry hashes, never
numbers; neither the phone nor the code is ever logged.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass

from django.core.cache import cache
from django.utils import timezone

from apps.members.errors import (
    OtpAttemptsExceededError,
    OtpExpiredError,
    OtpInvalidError,
    OtpRateLimitedError,
    SmsUnavailableError,
)
from apps.members.identities import identity_hash, normalize_phone
from atrium.crypto import keyed_hash, sha256_hex
from atrium.tenancy import tenant_connection
from integrations.sms.client import SmsError, send_sms

logger = logging.getLogger("apps.members")

OTP_TTL_SECONDS = 300
OTP_MAX_ATTEMPTS = 5
RESEND_AFTER_SECONDS = 60
DAILY_LIMIT_PER_PHONE = 10
HOURLY_LIMIT_PER_IP = 30
OTP_TEMPLATE = "otp"


@dataclass(frozen=True)
class OtpSent:
    expires_in: int
    resend_after: int


def _keys(phone: str) -> dict[str, str]:
    ref = identity_hash(phone)
    day = timezone.localdate().strftime("%Y%m%d")
    return {
        "code": f"members:otp:code:{ref}",
        "attempts": f"members:otp:attempts:{ref}",
        "cooldown": f"members:otp:cooldown:{ref}",
        "day": f"members:otp:day:{ref}:{day}",
    }


def _ip_key(ip: str) -> str:
    hour = timezone.now().strftime("%Y%m%d%H")
    return f"members:otp:ip:{sha256_hex(ip)}:{hour}"


def _bump(key: str, *, timeout: int) -> int:
    """Count one more in a window (atomic in Redis)."""
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


def _code_hash(phone: str, otp: str) -> str:
    return keyed_hash(f"otp:{phone}:{otp}")


def _sms_text(otp: str) -> str:
    tenant_name = getattr(tenant_connection().tenant, "name", "")
    prefix = f"【{tenant_name}】" if tenant_name else ""
    return f"{prefix}您的验证码是{otp}，{OTP_TTL_SECONDS // 60}分钟内有效。请勿告诉他人。"


def send_otp(*, phone: str, ip: str) -> OtpSent:
    """Text a fresh code to a phone (replacing an earlier one).

    Raises PhoneInvalidError, OtpRateLimitedError, SmsUnavailableError.
    """
    phone = normalize_phone(phone)
    keys = _keys(phone)
    if _bump(_ip_key(ip), timeout=3600) > HOURLY_LIMIT_PER_IP:
        raise OtpRateLimitedError("too many codes requested from this network", scope="ip")
    if not cache.add(keys["cooldown"], 1, timeout=RESEND_AFTER_SECONDS):
        raise OtpRateLimitedError(
            "a code was sent moments ago", scope="phone", retry_after=RESEND_AFTER_SECONDS
        )
    if _bump(keys["day"], timeout=26 * 3600) > DAILY_LIMIT_PER_PHONE:
        raise OtpRateLimitedError("too many codes for this phone today", scope="phone_day")
    otp = f"{secrets.randbelow(10**6):06d}"
    cache.set_many({keys["code"]: _code_hash(phone, otp), keys["attempts"]: 0}, OTP_TTL_SECONDS)
    try:
        send_sms(phone=phone, text=_sms_text(otp), template=OTP_TEMPLATE, params={"code": otp})
    except SmsError as exc:
        cache.delete_many([keys["code"], keys["attempts"], keys["cooldown"]])
        raise SmsUnavailableError(
            "the text message could not be sent; try again", retryable=exc.retryable
        ) from exc
    logger.info("members.otp_sent")
    return OtpSent(expires_in=OTP_TTL_SECONDS, resend_after=RESEND_AFTER_SECONDS)


def check_otp(*, phone: str, otp: str) -> None:
    """Accept a code once. Raises PhoneInvalidError, OtpExpiredError, OtpInvalidError,
    OtpAttemptsExceededError."""
    phone = normalize_phone(phone)
    keys = _keys(phone)
    stored = cache.get(keys["code"])
    if stored is None:
        raise OtpExpiredError("no valid code for this phone; request a new one")
    try:
        attempts = int(cache.incr(keys["attempts"]))
    except ValueError as exc:  # the code expired a moment ago
        raise OtpExpiredError("no valid code for this phone; request a new one") from exc
    if attempts > OTP_MAX_ATTEMPTS:
        cache.delete(keys["code"])
        raise OtpAttemptsExceededError("too many wrong codes; request a new one")
    if not hmac.compare_digest(str(stored), _code_hash(phone, otp.strip())):
        raise OtpInvalidError("the code is wrong", attempts_left=OTP_MAX_ATTEMPTS - attempts)
    cache.delete_many([keys["code"], keys["attempts"]])
