"""The dynamic member code: TOTP per member, refused when expired or reused, card as fallback."""

import time

import pytest

from apps.members import member_code
from apps.members.choices import IdentityKind, RegistrationChannel
from apps.members.errors import (
    MemberCodeExpiredError,
    MemberCodeInvalidError,
    MemberCodeReusedError,
    MemberNotActiveError,
)
from apps.members.models import Member
from apps.members.selectors import find_member
from apps.members.services import (
    NewIdentity,
    close_member,
    create_member,
    issue_member_code,
    join_member,
    merge_members,
    resolve_member_code,
)
from atrium.crypto import decrypt

# --- the algorithm (no database) -----------------------------------------------------------


def test_hotp_matches_rfc_4226_test_vectors():
    secret = b"12345678901234567890"
    expected = ["755224", "287082", "359152", "969429", "338314"]
    assert [member_code.hotp(secret, counter) for counter in range(5)] == expected


def test_rfc_6238_sha1_vector_with_sixty_second_steps():
    # RFC 6238 gives 94287082 (8 digits) for T=59 with 30-s steps, i.e. counter 1.
    assert member_code.hotp(b"12345678901234567890", 1, digits=8) == "94287082"
    assert member_code.step_at(59) == 0
    assert member_code.step_at(60) == 1


def test_luhn_check_digit():
    assert member_code.luhn_digit("7992739871") == "3"
    assert member_code.luhn_digit("0") == "0"


def test_code_layout_round_trips():
    secret = "ab" * 20
    code = member_code.format_code(reference="0000012345", secret_hex=secret, step=1000)
    assert len(code) == 18
    assert code.startswith("90000012345")
    assert member_code.parse_code(code) == member_code.ParsedCode(
        member_ref="0000012345", otp=member_code.hotp(bytes.fromhex(secret), 1000)
    )
    broken = code[:-1] + str((int(code[-1]) + 1) % 10)
    assert member_code.parse_code(broken) is None
    assert member_code.parse_code("12345") is None


# --- issuing and resolving -------------------------------------------------------------------


@pytest.fixture
def member(in_mall_a):
    return create_member(display_name="Lin")


def test_issued_code_resolves_to_the_member_once(member):
    code = issue_member_code(member=member)
    assert code.code.startswith("9" + member.member_no[1:])
    assert 1 <= code.expires_in <= 60
    assert resolve_member_code(code.code) == member
    with pytest.raises(MemberCodeReusedError) as caught:
        resolve_member_code(code.code)
    assert caught.value.code == "members.code_reused"


def test_code_rotates_every_sixty_seconds_and_expires_after_the_next_step(member):
    now = 1_800_000_000.0  # the start of a step
    first = issue_member_code(member=member, at=now)
    assert first.expires_in == 60
    assert issue_member_code(member=member, at=now + 59).code == first.code
    assert issue_member_code(member=member, at=now + 60).code != first.code
    # accepted in its own step and the next one (scanned as the minute turns) ...
    assert resolve_member_code(first.code, consume=False, at=now + 119) == member
    # ... refused after that
    with pytest.raises(MemberCodeExpiredError) as caught:
        resolve_member_code(first.code, at=now + 120)
    assert caught.value.code == "members.code_expired"


def test_a_code_from_three_minutes_ago_is_expired(member):
    old = issue_member_code(member=member, at=time.time() - 180)
    with pytest.raises(MemberCodeExpiredError):
        resolve_member_code(old.code)


def test_peeking_does_not_use_the_code_up(member):
    code = issue_member_code(member=member).code
    assert resolve_member_code(code, consume=False) == member
    assert resolve_member_code(code, consume=False) == member
    assert resolve_member_code(code) == member


def test_codes_of_another_member_or_with_a_wrong_totp_are_invalid(member):
    other = create_member(display_name="Bo")
    code = issue_member_code(member=member).code
    other_ref = member_code.member_ref(other.member_no)
    forged = f"9{other_ref}{code[11:17]}"
    forged += member_code.luhn_digit(forged)
    unknown = "9" + "9" * 10 + code[11:17]
    unknown += member_code.luhn_digit(unknown)
    for value in (forged, unknown, code[:-1] + str((int(code[-1]) + 1) % 10), "", "not-a-code"):
        with pytest.raises(MemberCodeInvalidError) as caught:
            resolve_member_code(value)
        assert caught.value.code == "members.code_invalid"


def test_static_card_number_is_the_fallback(member):
    card = [NewIdentity(IdentityKind.CARD, "VIP-0042")]
    holder = join_member(channel=RegistrationChannel.IMPORT, identities=card)
    again = join_member(channel=RegistrationChannel.IMPORT, identities=card)
    assert (holder.created, again.created, again.member) == (True, False, holder.member)
    assert resolve_member_code("vip-0042") == holder.member
    assert resolve_member_code("VIP-0042") == holder.member  # a card is not single-use
    assert find_member(code="VIP-0042") == holder.member
    assert find_member(code="VIP-9999") is None


def test_the_secret_is_stored_encrypted(member):
    stored = Member.objects.get(pk=member.pk).code_secret
    assert len(decrypt(stored)) == 40
    assert decrypt(stored) not in stored


def test_members_from_before_codes_get_a_secret_on_first_code(member):
    Member.objects.filter(pk=member.pk).update(code_secret="")
    member.refresh_from_db()
    code = issue_member_code(member=member)
    assert Member.objects.get(pk=member.pk).code_secret != ""
    assert resolve_member_code(code.code) == member


def test_merged_members_code_leads_to_the_survivor_and_closed_ones_to_nothing(member):
    survivor = create_member(display_name="Survivor")
    code = issue_member_code(member=member).code
    merge_members(source=member, target=survivor, actor="staff:test", reason="duplicate")
    assert resolve_member_code(code) == survivor
    with pytest.raises(MemberNotActiveError):
        issue_member_code(member=Member.objects.get(pk=member.pk))
    survivor_code = issue_member_code(member=survivor).code
    close_member(member=survivor, actor="test")
    with pytest.raises(MemberCodeInvalidError):
        resolve_member_code(survivor_code)
