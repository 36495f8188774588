"""PIPL: a member's copy of their data, and closing their account."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.loyalty import selectors as loyalty_selectors
from apps.loyalty.services import forfeit_points
from apps.members import events, locks, selectors
from apps.members.choices import ConsentSource, Gender, MemberStatus
from apps.members.errors import MemberNotActiveError
from apps.members.events import MemberClosed
from apps.members.models import Member, MemberIdentity
from apps.members.services.members import revoke_member_sessions, set_consents
from atrium.crypto import decrypt

logger = logging.getLogger("apps.members")

EXPORT_FORMAT = "atrium.member-export/1"


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _profile(member: Member) -> dict[str, Any]:
    return {
        "id": str(member.pk),
        "member_no": member.member_no,
        "name": member.name,
        "display_name": member.display_name,
        "gender": member.gender,
        "birthday": _iso(member.birthday),
        "registration_channel": member.registration_channel,
        "registered_at": _iso(member.registered_at),
        "status": member.status,
        "created_at": _iso(member.created_at),
    }


def _absorbed(member: Member) -> list[Member]:
    """Every member merged into this one, directly or through earlier merges."""
    found: list[Member] = []
    frontier = [member.pk]
    while frontier:
        batch = list(Member.objects.filter(merged_into_id__in=frontier).order_by("created_at"))
        found.extend(batch)
        frontier = [m.pk for m in batch]
    return found


def export_member_data(*, member: Member) -> dict[str, Any]:
    """Everything we hold on a member, as one JSON-ready document (identifiers decrypted)."""
    absorbed = _absorbed(member)
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(timezone.now()),
        "member": _profile(member),
        "identities": [
            {
                "kind": identity.kind,
                "value": decrypt(identity.value_encrypted),
                "verified_at": _iso(identity.verified_at),
                "created_at": _iso(identity.created_at),
            }
            for identity in selectors.list_identities(member=member)
        ],
        "consents": [
            {
                "kind": consent.kind,
                "granted": consent.granted,
                "at": _iso(consent.at),
                "source": consent.source,
            }
            for consent in selectors.list_consents(member=member)
        ],
        "merged_accounts": [_profile(m) for m in absorbed],
        "merges": [
            {
                "source_member_no": merge.source.member_no,
                "target_member_no": merge.target.member_no,
                "automatic": merge.automatic,
                "reason": merge.reason,
                "at": _iso(merge.created_at),
            }
            for merge in selectors.list_merges(member=member).select_related("source", "target")
        ],
        "loyalty": _loyalty_export(member, absorbed),
    }


def _loyalty_export(member: Member, absorbed: list[Member]) -> dict[str, Any]:
    points_entries = []
    growth_entries = []
    for holder in [member, *absorbed]:
        points_entries += [
            {
                "member_no": holder.member_no,
                "id": str(entry.pk),
                "kind": entry.kind,
                "points": entry.points,
                "reason": entry.reason,
                "source_type": entry.source_type,
                "source_id": entry.source_id,
                "merchant_id": str(entry.merchant_id) if entry.merchant_id else None,
                "created_at": _iso(entry.created_at),
            }
            for entry in loyalty_selectors.list_entries(member=holder)
        ]
        growth_entries += [
            {
                "member_no": holder.member_no,
                "delta": entry.delta,
                "reason": entry.reason,
                "source_type": entry.source_type,
                "source_id": entry.source_id,
                "created_at": _iso(entry.created_at),
            }
            for entry in loyalty_selectors.list_growth_entries(member=holder)
        ]
    summary = loyalty_selectors.points_summary(member=member)
    return {
        "points_balance": summary.balance,
        "growth": summary.growth,
        "tier": summary.tier.name if summary.tier else None,
        "points_entries": points_entries,
        "growth_entries": growth_entries,
    }


@transaction.atomic
def close_member(*, member: Member, actor: str) -> Member:
    """Close an account: personal data erased, identifiers deleted, consents withdrawn.

    The member row stays (anonymised, status closed) because ledger entries, sales and merges
    refer to it. The points left are forfeited by one balanced ledger entry (lots closed,
    balance 0), so the ledger invariants still hold and nobody can spend them later.
    Members merged into this one are anonymised too. Every session ends.
    Raises MemberNotActiveError.
    """
    (locked,) = locks.members_for_update(member_ids=[member.pk])
    if locked.status != MemberStatus.ACTIVE:
        raise MemberNotActiveError("member is already merged or closed", status=locked.status)
    granted = {kind: False for kind, on in selectors.current_consents(member=locked).items() if on}
    if granted:
        set_consents(member=locked, consents=granted, source=ConsentSource.CLOSING)
    everyone = [locked, *_absorbed(locked)]
    MemberIdentity.objects.filter(member__in=everyone).delete()
    now = timezone.now()
    for person in everyone:
        person.name = ""
        person.display_name = ""
        person.birthday = None
        person.gender = Gender.UNKNOWN
        person.code_secret = ""
        fields = ["name", "display_name", "birthday", "gender", "code_secret", "updated_at"]
        if person.pk == locked.pk:
            person.status = MemberStatus.CLOSED
            person.is_active = False
            person.status_changed_at = now
            fields += ["status", "is_active", "status_changed_at"]
        person.save(update_fields=fields)
    forfeit_points(
        member=locked,
        idempotency_key=f"close:{locked.pk}",
        reason="account closed",
        actor=actor,
    )
    revoke_member_sessions(member=locked)
    events.publish(MemberClosed(member_id=str(locked.pk)))
    logger.info("members.closed", extra={"member_id": str(locked.pk), "actor": actor})
    return locked
