"""Showing and scanning the dynamic member code (format and validity: `apps.members.member_code`)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.core.cache import cache

from apps.members.choices import IdentityKind, MemberStatus
from apps.members.errors import (
    IdentityInvalidError,
    MemberCodeExpiredError,
    MemberCodeInvalidError,
    MemberCodeReusedError,
    MemberNotActiveError,
)
from apps.members.identities import identity_hash, normalize_identity
from apps.members.member_code import (
    ACCEPTED_STEPS_AHEAD,
    STEP_SECONDS,
    format_code,
    is_accepted,
    looks_like_member_code,
    matching_step,
    member_no_of,
    member_ref,
    new_secret,
    parse_code,
    step_at,
)
from apps.members.models import Member, MemberIdentity
from apps.members.selectors import surviving_member
from atrium.crypto import decrypt, encrypt


@dataclass(frozen=True)
class MemberCode:
    """A code to show now, and the seconds until the app should fetch the next one."""

    code: str
    expires_in: int


def _secret_of(member: Member) -> str:
    """The member's TOTP secret, created once for members enrolled before codes existed."""
    if not member.code_secret:
        # Two concurrent first requests must not each keep a different secret.
        Member.objects.filter(pk=member.pk, code_secret="").update(
            code_secret=encrypt(new_secret())
        )
        member.code_secret = Member.objects.values_list("code_secret", flat=True).get(pk=member.pk)
    return decrypt(member.code_secret)


def issue_member_code(*, member: Member, at: float | None = None) -> MemberCode:
    """The member's code for the current 60-second step. Raises MemberNotActiveError."""
    if member.status != MemberStatus.ACTIVE:
        raise MemberNotActiveError("member is merged or closed", status=member.status)
    reference = member_ref(member.member_no)
    if reference is None:
        raise MemberNotActiveError("member number has no code reference", status=member.status)
    now = time.time() if at is None else at
    step = step_at(now)
    code = format_code(reference=reference, secret_hex=_secret_of(member), step=step)
    return MemberCode(code=code, expires_in=max(1, math.ceil((step + 1) * STEP_SECONDS - now)))


def _used_key(member: Member, step: int) -> str:
    return f"members:code-used:{member.pk}:{step}"


def resolve_member_code(code: str, *, consume: bool = True, at: float | None = None) -> Member:
    """The active member behind a scanned dynamic code, or behind a static card number.

    A dynamic code is accepted once (`consume=False` checks it without using it up, e.g. to
    show the member's name before the sale); a merged member's code leads to the survivor.
    Raises MemberCodeInvalidError (no member matches), MemberCodeExpiredError,
    MemberCodeReusedError.
    """
    value = "".join((code or "").split())
    if not looks_like_member_code(value):
        return _member_by_card(value)
    parsed = parse_code(value)
    member = (
        Member.objects.filter(member_no=member_no_of(parsed.member_ref)).first() if parsed else None
    )
    if parsed is None or member is None or not member.code_secret:
        raise MemberCodeInvalidError("no member matches this code")
    now = time.time() if at is None else at
    now_step = step_at(now)
    step = matching_step(secret_hex=decrypt(member.code_secret), otp=parsed.otp, now_step=now_step)
    if step is None:
        raise MemberCodeInvalidError("no member matches this code")
    if not is_accepted(step=step, now_step=now_step):
        raise MemberCodeExpiredError("member code has expired; ask for a fresh one")
    survivor = surviving_member(member)
    if survivor is None:
        raise MemberCodeInvalidError("no member matches this code")
    if consume:
        # Keep the mark for as long as the code could still be accepted.
        lifetime = math.ceil((step + ACCEPTED_STEPS_AHEAD + 1) * STEP_SECONDS - now) + 1
        if not cache.add(_used_key(member, step), 1, timeout=max(lifetime, 1)):
            raise MemberCodeReusedError("member code was already used; ask for a fresh one")
    return survivor


def _member_by_card(value: str) -> Member:
    try:
        card = normalize_identity(IdentityKind.CARD, value)
    except IdentityInvalidError as exc:
        raise MemberCodeInvalidError("no member matches this code") from exc
    identity = (
        MemberIdentity.objects.select_related("member")
        .filter(kind=IdentityKind.CARD, value_hash=identity_hash(card))
        .first()
    )
    survivor = surviving_member(identity.member) if identity is not None else None
    if survivor is None:
        raise MemberCodeInvalidError("no member matches this code")
    return survivor
