"""Identifiers are normalized before hashing and masked for staff without the PII permission."""

import pytest

from apps.members.choices import IdentityKind
from apps.members.errors import IdentityInvalidError, PhoneInvalidError
from apps.members.identities import mask_identity, mask_phone, normalize_identity, normalize_phone


@pytest.mark.parametrize(
    "raw",
    [
        "13812341234",
        "+8613812341234",
        "+86 138 1234 1234",
        "008613812341234",
        "8613812341234",
        "138-1234-1234",
        " (138) 1234 1234 ",
    ],
)
def test_phone_numbers_normalize_to_eleven_digits(raw):
    assert normalize_phone(raw) == "13812341234"


@pytest.mark.parametrize(
    "raw",
    ["", "1381234123", "138123412345", "23812341234", "12812341234", "+1 415 555 0100", "abc"],
)
def test_other_numbers_are_refused(raw):
    with pytest.raises(PhoneInvalidError) as caught:
        normalize_phone(raw)
    assert caught.value.code == "members.phone_invalid"


def test_masks():
    assert mask_phone("13812341234") == "138****1234"
    assert mask_identity(IdentityKind.PHONE, "13812341234") == "138****1234"
    assert mask_identity(IdentityKind.CARD, "VIP00012345") == "****2345"
    assert mask_identity(IdentityKind.PLATE, "京A12345") == "京A****5"
    assert mask_identity(IdentityKind.WECHAT_OPENID, "oAbCdEfGhIjK") == "oAbC****jK"


def test_cards_and_plates_normalize():
    assert normalize_identity(IdentityKind.CARD, " vip 0001-2345 ") == "VIP0001-2345"
    assert normalize_identity(IdentityKind.PLATE, "京a·123 45") == "京A12345"
    assert normalize_identity(IdentityKind.PLATE, "粤B-D12345") == "粤BD12345"


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (IdentityKind.CARD, "ab"),
        (IdentityKind.CARD, "卡号123"),
        # the shape of a dynamic member code is reserved for member codes
        (IdentityKind.CARD, "912345678901234567"),
        (IdentityKind.PLATE, "A12345"),
        (IdentityKind.WECHAT_OPENID, "o!"),
        ("passport", "E12345678"),
    ],
)
def test_malformed_identifiers_are_refused(kind, raw):
    with pytest.raises(IdentityInvalidError) as caught:
        normalize_identity(kind, raw)
    assert caught.value.code == "members.identity_invalid"
