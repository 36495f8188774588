"""The dynamic member code: what the member app shows and a till scans (pure functions).

Format: 18 digits, `9 RRRRRRRRRR TTTTTT C`
- `9`: marks a member code. Alipay payment codes start with 25-30 and WeChat Pay's with 10-15,
  so a till that scans both never confuses them; card numbers may not take this shape.
- `R` x 10: the member reference, the digits of the member number (`M` + 10 digits), so the till
  finds the member with one indexed lookup and no secret.
- `T` x 6: a TOTP (RFC 6238 with HMAC-SHA1, RFC 4226 dynamic truncation) over 60-second steps of
  Unix time, keyed by the member's own 20-byte secret (stored encrypted on the member).
- `C`: a Luhn check digit over the 17 digits before it, so a mistyped code is refused early.

Validity: the app shows the code of the current step and refreshes it when the step ends
(`expires_in`). The server accepts the current step, the previous one (a code scanned in the last
second of its minute) and the next one (clock skew between servers): a code lives at most two
minutes, and is accepted once (the reuse check in `apps.members.services.codes`). A code that
matches an older step within the last hour is reported as expired, anything else as invalid.
The same 18 digits go into the QR code and the Code 128 barcode, so any scanner yields the same
input for `resolve_member_code`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import struct
from dataclasses import dataclass

PREFIX = "9"
STEP_SECONDS = 60
OTP_DIGITS = 6
REF_DIGITS = 10
CODE_LENGTH = len(PREFIX) + REF_DIGITS + OTP_DIGITS + 1
ACCEPTED_STEPS_BEHIND = 1
ACCEPTED_STEPS_AHEAD = 1
EXPIRED_LOOKBACK_STEPS = 60
_CODE = re.compile(rf"^{PREFIX}\d{{{CODE_LENGTH - 1}}}$")
_MEMBER_NO = re.compile(rf"^M(\d{{{REF_DIGITS}}})$")


@dataclass(frozen=True)
class ParsedCode:
    member_ref: str
    otp: str


def new_secret() -> str:
    """A fresh 160-bit TOTP secret, hex-encoded (RFC 4226 recommends 160 bits)."""
    return secrets.token_hex(20)


def hotp(secret: bytes, counter: int, digits: int = OTP_DIGITS) -> str:
    """RFC 4226 HOTP value of a counter."""
    digest = hmac.new(secret, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def step_at(unix_time: float) -> int:
    """The 60-second step a moment falls in."""
    return int(unix_time // STEP_SECONDS)


def luhn_digit(digits: str) -> str:
    """The Luhn check digit to append to `digits`."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:  # doubled: the rightmost digit before the check digit, then every other
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def member_ref(member_no: str) -> str | None:
    """The numeric reference a member number carries, or None for another format."""
    match = _MEMBER_NO.match(member_no)
    return match.group(1) if match else None


def member_no_of(reference: str) -> str:
    """The member number behind a reference."""
    return f"M{reference}"


def format_code(*, reference: str, secret_hex: str, step: int) -> str:
    """The 18-digit code of one member for one step."""
    body = f"{PREFIX}{reference}{hotp(bytes.fromhex(secret_hex), step)}"
    return body + luhn_digit(body)


def looks_like_member_code(value: str) -> bool:
    """Whether a scanned value has the shape of a dynamic code (else: a card number)."""
    return bool(_CODE.match(value))


def parse_code(value: str) -> ParsedCode | None:
    """The reference and OTP of a well-formed code; None when the shape or check digit is wrong."""
    if not looks_like_member_code(value) or luhn_digit(value[:-1]) != value[-1]:
        return None
    reference = value[len(PREFIX) : len(PREFIX) + REF_DIGITS]
    return ParsedCode(member_ref=reference, otp=value[len(PREFIX) + REF_DIGITS : -1])


def matching_step(*, secret_hex: str, otp: str, now_step: int) -> int | None:
    """The step this OTP belongs to, searched from the next step back over the last hour."""
    secret = bytes.fromhex(secret_hex)
    for step in range(now_step + ACCEPTED_STEPS_AHEAD, now_step - EXPIRED_LOOKBACK_STEPS - 1, -1):
        if hmac.compare_digest(hotp(secret, step), otp):
            return step
    return None


def is_accepted(*, step: int, now_step: int) -> bool:
    """Whether a code of `step` is still valid at `now_step`."""
    return now_step - ACCEPTED_STEPS_BEHIND <= step <= now_step + ACCEPTED_STEPS_AHEAD
