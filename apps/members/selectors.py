"""Reads of members, their identities and consents."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet

from apps.members.choices import ConsentKind, IdentityKind, MemberStatus
from apps.members.errors import MemberNotFoundError
from apps.members.identities import identity_hash, mask_identity, normalize_identity
from apps.members.models import Member, MemberConsent, MemberIdentity, MemberMerge
from atrium.crypto import decrypt
from atrium.sql import Statement, pg_array

# A merge chain longer than this would be a bug; stop rather than loop.
_MAX_MERGE_HOPS = 16


def get_member(*, member_id: uuid.UUID | str) -> Member:
    """One member in any status. Raises MemberNotFoundError."""
    try:
        return Member.objects.get(pk=member_id)
    except (Member.DoesNotExist, ValueError) as exc:
        raise MemberNotFoundError("member not found") from exc


def surviving_member(member: Member) -> Member | None:
    """The member that absorbed this one (itself if active); None when closed."""
    current = member
    for _ in range(_MAX_MERGE_HOPS):
        if current.status == MemberStatus.ACTIVE:
            return current
        if current.status == MemberStatus.CLOSED or current.merged_into_id is None:
            return None
        current = Member.objects.get(pk=current.merged_into_id)
    return None


def identity_holder(*, kind: str, value: str) -> MemberIdentity | None:
    """The identity row for a normalized value, with its member. Raises nothing."""
    return (
        MemberIdentity.objects.select_related("member")
        .filter(kind=kind, value_hash=identity_hash(value))
        .first()
    )


def member_by_identity(*, kind: str, raw_value: str) -> Member | None:
    """The active member holding an identifier (normalized here). Raises IdentityInvalidError."""
    identity = identity_holder(kind=kind, value=normalize_identity(kind, raw_value))
    return surviving_member(identity.member) if identity is not None else None


# What a sale's writer reads of a buyer named by number: whether they can buy (status, and who
# absorbed them), and their number for the lookup. The rest of the row (names, dates, the code's
# secret) stays deferred: a batch reads up to 500 members and uses none of it.
_BUYER_FIELDS = ("id", "member_no", "status", "merged_into_id")


def members_by_number_statement(member_nos: Iterable[str]) -> Statement:
    """Members by number (normalized as `find_member` does; merged ones as they are, for
    `surviving_member`), as a statement for `atrium.sql.run_statements`; its rows go to
    `members_from_rows`, which gives members with only `_BUYER_FIELDS` loaded (any other field
    is read on first use, as with `.only()`)."""
    return Statement(
        f"SELECT {', '.join(_BUYER_FIELDS)} FROM {Member._meta.db_table} "  # noqa: S608 - names only
        "WHERE member_no = ANY(%(n)s::text[])",
        {"n": pg_array(sorted({member_no.strip().upper() for member_no in member_nos}))},
        prepare=False,  # planned for the table's current size (see `atrium.sql.Statement`)
    )


def members_from_rows(rows: Iterable[tuple[Any, ...]]) -> dict[str, Member]:
    """Members by number from the rows of `members_by_number_statement`."""
    members = (Member.from_db("default", _BUYER_FIELDS, row) for row in rows)
    return {member.member_no: member for member in members}


def find_member(
    *,
    phone: str | None = None,
    member_no: str | None = None,
    card: str | None = None,
    code: str | None = None,
) -> Member | None:
    """The active member matching exactly one key; merged members lead to their survivor.

    `code` is a scanned member code or card number and is consumed (see `resolve_member_code`).
    Raises PhoneInvalidError / IdentityInvalidError for a malformed phone or card, and for a code
    MemberCodeExpiredError / MemberCodeReusedError (an unknown code answers None).
    """
    given = [key for key in (phone, member_no, card, code) if key is not None]
    if len(given) != 1:
        raise ValueError("find_member takes exactly one of phone, member_no, card, code")
    if phone is not None:
        return member_by_identity(kind=IdentityKind.PHONE, raw_value=phone)
    if card is not None:
        return member_by_identity(kind=IdentityKind.CARD, raw_value=card)
    if member_no is not None:
        member = Member.objects.filter(member_no=member_no.strip().upper()).first()
        return surviving_member(member) if member is not None else None
    # Imported at call time: the services package imports this module.
    from apps.members.errors import MemberCodeInvalidError
    from apps.members.services.codes import resolve_member_code

    try:
        return resolve_member_code(str(code))
    except MemberCodeInvalidError:
        return None


def search_members(
    *, member_no: str | None = None, phone: str | None = None, card: str | None = None
) -> QuerySet[Member]:
    """Members for the console (any status), newest first, filtered by exact keys.

    Raises PhoneInvalidError / IdentityInvalidError for a malformed phone or card.
    """
    queryset = Member.objects.prefetch_related(
        Prefetch("identities", queryset=MemberIdentity.objects.order_by("created_at", "id"))
    ).order_by("-registered_at", "-id")
    if member_no:
        queryset = queryset.filter(member_no=member_no.strip().upper())
    for kind, raw in ((IdentityKind.PHONE, phone), (IdentityKind.CARD, card)):
        if raw:
            value_hash = identity_hash(normalize_identity(kind, raw))
            queryset = queryset.filter(identities__kind=kind, identities__value_hash=value_hash)
    return queryset


def list_identities(*, member: Member) -> list[MemberIdentity]:
    """A member's identities, oldest first."""
    return list(MemberIdentity.objects.filter(member=member).order_by("created_at", "id"))


def primary_phone(*, member: Member) -> str | None:
    """The member's most recently verified (else newest) phone number, decrypted."""
    identity = (
        MemberIdentity.objects.filter(member=member, kind=IdentityKind.PHONE)
        .order_by("-verified_at", "-created_at", "-id")
        .first()
    )
    return decrypt(identity.value_encrypted) if identity is not None else None


def phone_of(identities: list[MemberIdentity]) -> str | None:
    """The display phone among prefetched identities (verified first, then newest)."""
    phones = [i for i in identities if i.kind == IdentityKind.PHONE]
    if not phones:
        return None
    phones.sort(key=lambda i: (i.verified_at is not None, i.verified_at, i.created_at, i.pk))
    return decrypt(phones[-1].value_encrypted)


@dataclass(frozen=True)
class IdentityView:
    kind: str
    value: str
    verified_at: dt.datetime | None


def identity_views(identities: list[MemberIdentity], *, clear: bool) -> list[IdentityView]:
    """Identities for display: decrypted, and masked unless `clear`."""
    views = []
    for identity in identities:
        value = decrypt(identity.value_encrypted)
        views.append(
            IdentityView(
                kind=identity.kind,
                value=value if clear else mask_identity(identity.kind, value),
                verified_at=identity.verified_at,
            )
        )
    return views


def current_consents(*, member: Member) -> dict[str, bool]:
    """The consent in force per kind (False where never given)."""
    state = dict.fromkeys(ConsentKind.values, False)
    seen: set[str] = set()
    for consent in MemberConsent.objects.filter(member=member).order_by("-at", "-id"):
        if consent.kind not in seen:
            seen.add(consent.kind)
            state[consent.kind] = consent.granted
    return state


def list_consents(*, member: Member) -> QuerySet[MemberConsent]:
    """Every consent record of a member, newest first."""
    return MemberConsent.objects.filter(member=member).order_by("-at", "-id")


def list_merges(*, member: Member) -> QuerySet[MemberMerge]:
    """Merges into or out of a member, newest first."""
    return (
        MemberMerge.objects.filter(target=member) | MemberMerge.objects.filter(source=member)
    ).order_by("-created_at", "-id")
