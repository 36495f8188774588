"""Joining, profiles, consents, identities and member sessions."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.choices import SubjectKind
from apps.members import events, selectors
from apps.members.choices import (
    ConsentKind,
    ConsentSource,
    Gender,
    IdentityKind,
    MemberStatus,
    RegistrationChannel,
)
from apps.members.errors import (
    BirthdayLockedError,
    ConsentInvalidError,
    IdentityInvalidError,
    IdentityTakenError,
    MemberNotActiveError,
    ProfileInvalidError,
)
from apps.members.events import MemberJoined
from apps.members.identities import identity_hash, normalize_identity
from apps.members.member_code import new_secret
from apps.members.models import Member, MemberConsent, MemberIdentity
from atrium import tokens
from atrium.crypto import encrypt
from atrium.models import AuthSession

logger = logging.getLogger("apps.members")

PROFILE_FIELDS = frozenset({"name", "display_name", "gender", "birthday"})
OLDEST_BIRTHDAY = dt.date(1900, 1, 1)
_CONSENT_SOURCE_OF_CHANNEL: dict[str, str] = {
    RegistrationChannel.APP: ConsentSource.APP,
    RegistrationChannel.WECHAT: ConsentSource.WECHAT,
    RegistrationChannel.ALIPAY: ConsentSource.APP,
    RegistrationChannel.TILL: ConsentSource.TILL,
    RegistrationChannel.IMPORT: ConsentSource.IMPORT,
    RegistrationChannel.RECEIPT: ConsentSource.APP,
}


@dataclass(frozen=True)
class NewIdentity:
    """An identifier to attach, as the caller got it (normalized by the service)."""

    kind: str
    value: str
    verified: bool = False


@dataclass(frozen=True)
class JoinResult:
    member: Member
    created: bool


def _clean_profile(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Checked profile values. Raises ProfileInvalidError."""
    unknown = set(changes) - PROFILE_FIELDS
    if unknown:
        raise ProfileInvalidError("unknown profile fields", fields=sorted(unknown))
    clean: dict[str, Any] = {}
    for field in ("name", "display_name"):
        if field in changes:
            value = str(changes[field] or "").strip()
            if len(value) > 100:
                raise ProfileInvalidError("name is too long", field=field, max_length=100)
            clean[field] = value
    if "gender" in changes:
        if changes["gender"] not in Gender.values:
            raise ProfileInvalidError("unknown gender", field="gender", allowed=Gender.values)
        clean["gender"] = changes["gender"]
    if "birthday" in changes:
        birthday = changes["birthday"]
        if birthday is not None and (
            not isinstance(birthday, dt.date)
            or not OLDEST_BIRTHDAY <= birthday <= timezone.localdate()
        ):
            raise ProfileInvalidError("birthday is not plausible", field="birthday")
        clean["birthday"] = birthday
    return clean


def _new_member_no() -> str:
    while True:
        member_no = f"M{secrets.randbelow(10**10):010d}"
        if not Member.objects.filter(member_no=member_no).exists():
            return member_no


@transaction.atomic
def create_member(
    *,
    display_name: str = "",
    name: str = "",
    gender: str = Gender.UNKNOWN,
    birthday: dt.date | None = None,
    channel: str = RegistrationChannel.APP,
) -> Member:
    """Enrol a member with a fresh member number and member-code secret (no identifier yet).

    Raises ProfileInvalidError.
    """
    profile = _clean_profile(
        {"display_name": display_name, "name": name, "gender": gender, "birthday": birthday}
    )
    if channel not in RegistrationChannel.values:
        raise ProfileInvalidError("unknown registration channel", field="registration_channel")
    member = Member.objects.create(
        member_no=_new_member_no(),
        registration_channel=channel,
        code_secret=encrypt(new_secret()),
        **profile,
    )
    events.publish(MemberJoined(member_id=str(member.pk), channel=channel))
    return member


def join_member(
    *,
    channel: str,
    phone: str | None = None,
    phone_verified: bool = False,
    identities: Sequence[NewIdentity] = (),
    name: str = "",
    display_name: str = "",
    gender: str = Gender.UNKNOWN,
    birthday: dt.date | None = None,
    consents: Mapping[str, bool] | None = None,
    consent_source: str | None = None,
) -> JoinResult:
    """Find the member holding one of these identifiers, or enrol a new one with all of them.

    Used by the member app (verified phone), WeChat login (openid/unionid), a till (phone typed
    at checkout, unverified) and imports. Safe to retry: identifiers are unique, so a retry, or
    a concurrent join with the same phone, finds the member the first call made. An existing
    member keeps its profile; free identifiers are added to it and a verification recorded.
    Raises PhoneInvalidError, IdentityInvalidError, ProfileInvalidError, ConsentInvalidError.
    """
    wanted = [NewIdentity(IdentityKind.PHONE, phone, phone_verified)] if phone else []
    wanted += list(identities)
    if not wanted:
        raise IdentityInvalidError("a member joins with at least one identifier")
    normalized = [
        NewIdentity(i.kind, normalize_identity(i.kind, i.value), i.verified) for i in wanted
    ]
    profile = {"name": name, "display_name": display_name, "gender": gender, "birthday": birthday}
    _clean_profile(profile)
    source = consent_source or _CONSENT_SOURCE_OF_CHANNEL.get(channel, ConsentSource.APP)
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _join(normalized, channel, profile, consents, source)
        except IntegrityError:
            # A concurrent join took one of these identifiers first: the retry finds its member.
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _join(
    identities: Sequence[NewIdentity],
    channel: str,
    profile: Mapping[str, Any],
    consents: Mapping[str, bool] | None,
    source: str,
) -> JoinResult:
    existing: Member | None = None
    for identity in identities:
        holder = selectors.identity_holder(kind=identity.kind, value=identity.value)
        if holder is not None:
            existing = selectors.surviving_member(holder.member)
            break
    created = existing is None
    if existing is None:
        member = create_member(channel=channel, **profile)
        # No look-up here: a concurrent join of the same identifier must hit the unique
        # constraint (IntegrityError, retried by the caller), not leave a member without it.
        for identity in identities:
            _insert_identity(member, identity)
    else:
        member = existing
        for identity in identities:
            holder = selectors.identity_holder(kind=identity.kind, value=identity.value)
            if holder is None:
                _insert_identity(member, identity)
            elif holder.member_id == member.pk and identity.verified:
                _mark_verified(holder)
    if consents:
        set_consents(member=member, consents=consents, source=source)
    if created:
        logger.info("members.joined", extra={"member_id": str(member.pk), "channel": channel})
    return JoinResult(member=member, created=created)


def _insert_identity(member: Member, identity: NewIdentity) -> MemberIdentity:
    return MemberIdentity.objects.create(
        member=member,
        kind=identity.kind,
        value_hash=identity_hash(identity.value),
        value_encrypted=encrypt(identity.value),
        verified_at=timezone.now() if identity.verified else None,
    )


def _mark_verified(identity: MemberIdentity) -> None:
    if identity.verified_at is None:
        identity.verified_at = timezone.now()
        identity.save(update_fields=["verified_at"])


def _require_active(member: Member) -> None:
    if member.status != MemberStatus.ACTIVE:
        raise MemberNotActiveError("member is merged or closed", status=member.status)


@transaction.atomic
def attach_identity(
    *, member: Member, kind: str, value: str, verified: bool = False
) -> MemberIdentity:
    """Give a member another identifier (or record its verification).

    Raises IdentityInvalidError, PhoneInvalidError, IdentityTakenError, MemberNotActiveError.
    """
    _require_active(member)
    normalized = normalize_identity(kind, value)
    holder = selectors.identity_holder(kind=kind, value=normalized)
    if holder is not None:
        if holder.member_id != member.pk:
            raise IdentityTakenError("identifier belongs to another member", kind=kind)
        if verified:
            _mark_verified(holder)
        return holder
    try:
        with transaction.atomic():
            return _insert_identity(member, NewIdentity(kind, normalized, verified))
    except IntegrityError as exc:
        raise IdentityTakenError("identifier belongs to another member", kind=kind) from exc


@transaction.atomic
def update_profile(
    *, member: Member, changes: Mapping[str, Any], by_member: bool = False
) -> Member:
    """Change name, display name, gender or birthday.

    A member sets their birthday once (birthday gifts would otherwise invite changes); staff
    may correct it. Raises ProfileInvalidError, BirthdayLockedError, MemberNotActiveError.
    """
    _require_active(member)
    clean = _clean_profile(changes)
    if (
        by_member
        and "birthday" in clean
        and member.birthday is not None
        and clean["birthday"] != member.birthday
    ):
        raise BirthdayLockedError("the birthday can be set only once; ask the service desk")
    for field, value in clean.items():
        setattr(member, field, value)
    if clean:
        member.save(update_fields=[*sorted(clean), "updated_at"])
    return member


@transaction.atomic
def set_consents(
    *,
    member: Member,
    consents: Mapping[str, bool],
    source: str,
    at: dt.datetime | None = None,
) -> dict[str, bool]:
    """Record the consents that change (or were never recorded); returns the consents in force.

    Raises ConsentInvalidError for an unknown kind.
    """
    unknown = set(consents) - set(ConsentKind.values)
    if unknown:
        raise ConsentInvalidError(
            "unknown consent kind", kinds=sorted(unknown), allowed=ConsentKind.values
        )
    recorded = set(
        MemberConsent.objects.filter(member=member).values_list("kind", flat=True).distinct()
    )
    state = selectors.current_consents(member=member)
    moment = at or timezone.now()
    rows = [
        MemberConsent(member=member, kind=kind, granted=bool(granted), at=moment, source=source)
        for kind, granted in sorted(consents.items())
        if kind not in recorded or state[kind] != bool(granted)
    ]
    MemberConsent.objects.bulk_create(rows)
    state.update({row.kind: row.granted for row in rows})
    return state


def issue_member_tokens(*, member: Member) -> tokens.TokenPair:
    """Open a member session (called by the member login flows)."""
    return tokens.issue_tokens(
        session_model=AuthSession, subject_kind=SubjectKind.MEMBER, subject_id=str(member.pk)
    )


def refresh_member_tokens(*, refresh_token: str) -> tokens.TokenPair:
    """Rotate a member refresh token. Raises AuthenticationError."""
    return tokens.refresh_tokens(
        session_model=AuthSession, refresh_token=refresh_token, subject_kinds={SubjectKind.MEMBER}
    )


def revoke_member_sessions(*, member: Member) -> int:
    """End every login of a member (merge, closing)."""
    return tokens.revoke_subject_sessions(
        session_model=AuthSession, subject_kind=SubjectKind.MEMBER, subject_id=str(member.pk)
    )
