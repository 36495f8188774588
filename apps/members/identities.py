"""Normalizing, hashing and masking identifiers (pure functions, no database).

Every identifier is normalized before it is hashed, so `+86 138-0013-8000` and `13800138000`
find the same member. Lookups use `atrium.crypto.keyed_hash(normalized value)`.
"""

from __future__ import annotations

import re

from apps.members.choices import IdentityKind
from apps.members.errors import IdentityInvalidError, PhoneInvalidError
from apps.members.member_code import looks_like_member_code
from atrium.crypto import keyed_hash

_PHONE = re.compile(r"^1[3-9]\d{9}$")
_PHONE_NOISE = re.compile(r"[\s\-().]")
_CARD = re.compile(r"^[A-Z0-9-]{4,32}$")
_PLATE = re.compile(r"^[\u4e00-\u9fff][A-Z][A-Z0-9]{5,6}[\u4e00-\u9fff]?$")
_OPAQUE = re.compile(r"^[A-Za-z0-9_\-]{6,128}$")


def normalize_phone(raw: str) -> str:
    """An 11-digit mainland mobile number, without +86/0086. Raises PhoneInvalidError."""
    digits = _PHONE_NOISE.sub("", raw or "")
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
            break
    if not _PHONE.match(digits):
        raise PhoneInvalidError("not a mainland China mobile number")
    return digits


def mask_phone(phone: str) -> str:
    """`13812341234` -> `138****1234`, for staff without the personal-data permission."""
    if len(phone) != 11:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[7:]}"


def normalize_identity(kind: str, raw: str) -> str:
    """The canonical form of an identifier of this kind. Raises IdentityInvalidError."""
    value = (raw or "").strip()
    if kind == IdentityKind.PHONE:
        return normalize_phone(value)
    if kind == IdentityKind.CARD:
        card = re.sub(r"\s", "", value).upper()
        # A card that looks like a dynamic member code would be read as one at the till.
        if not _CARD.match(card) or looks_like_member_code(card):
            raise IdentityInvalidError("card number is not valid", kind=kind)
        return card
    if kind == IdentityKind.PLATE:
        plate = re.sub(r"[\s·.\-]", "", value).upper()
        if not _PLATE.match(plate):
            raise IdentityInvalidError("licence plate is not valid", kind=kind)
        return plate
    if kind in IdentityKind.values:
        if not _OPAQUE.match(value):
            raise IdentityInvalidError("identifier is not valid", kind=kind)
        return value
    raise IdentityInvalidError("unknown identity kind", kind=kind)


def identity_hash(value: str) -> str:
    """The lookup hash of a normalized identifier."""
    return keyed_hash(value)


def mask_identity(kind: str, value: str) -> str:
    """A display form that does not reveal the identifier."""
    if kind == IdentityKind.PHONE:
        return mask_phone(value)
    if kind == IdentityKind.CARD:
        return f"****{value[-4:]}"
    if kind == IdentityKind.PLATE:
        return f"{value[:2]}{'*' * (len(value) - 3)}{value[-1:]}"
    return f"{value[:4]}****{value[-2:]}"
