"""Merging a duplicate member into another: identities, consents, profile gaps and ledgers."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from apps.loyalty.services import merge_member_ledgers
from apps.members import events, locks
from apps.members.choices import Gender, MemberStatus
from apps.members.errors import MergeInvalidError
from apps.members.events import MembersMerged
from apps.members.models import Member, MemberConsent, MemberIdentity, MemberMerge
from apps.members.services.members import revoke_member_sessions

logger = logging.getLogger("apps.members")

_FILLABLE = ("name", "display_name", "birthday")


@transaction.atomic
def merge_members(
    *, source: Member, target: Member, actor: str, reason: str, automatic: bool = False
) -> MemberMerge:
    """Fold `source` into `target`; `source` stays as a merged record pointing at `target`.

    Identities and consent records move to the target (for each consent the latest record wins:
    it is the person's most recent choice); the target's empty profile fields are filled from
    the source; the source's sessions end; loyalty moves points lots, balance and growth in one
    idempotent journal entry, so no ledger entry is lost or counted twice.
    Raises MergeInvalidError (same member, or either one not active).
    """
    reason = reason.strip()
    if source.pk == target.pk:
        raise MergeInvalidError("cannot merge a member into itself")
    if not reason or len(reason) > 200:
        raise MergeInvalidError("a merge needs a reason of at most 200 characters")
    rows = {m.pk: m for m in locks.members_for_update(member_ids=[source.pk, target.pk])}
    source, target = rows[source.pk], rows[target.pk]
    for member in (source, target):
        if member.status != MemberStatus.ACTIVE:
            raise MergeInvalidError(
                "only active members can be merged",
                member_no=member.member_no,
                status=member.status,
            )
    identities_moved = MemberIdentity.objects.filter(member=source).update(member=target)
    consents_moved = MemberConsent.objects.filter(member=source).update(member=target)
    filled = [f for f in _FILLABLE if not getattr(target, f) and getattr(source, f)]
    for field in filled:
        setattr(target, field, getattr(source, field))
    if target.gender == Gender.UNKNOWN and source.gender != Gender.UNKNOWN:
        target.gender = source.gender
        filled.append("gender")
    if filled:
        target.save(update_fields=[*filled, "updated_at"])
    now = timezone.now()
    source.status = MemberStatus.MERGED
    source.is_active = False
    source.merged_into = target
    source.status_changed_at = now
    source.save(
        update_fields=["status", "is_active", "merged_into", "status_changed_at", "updated_at"]
    )
    entry = merge_member_ledgers(
        source=source, target=target, idempotency_key=f"members.merge:{source.pk}"
    )
    merge = MemberMerge.objects.create(
        source=source,
        target=target,
        actor=actor,
        reason=reason,
        automatic=automatic,
        identities_moved=identities_moved,
        consents_moved=consents_moved,
        ledger_entry_id=entry.pk,
    )
    revoke_member_sessions(member=source)
    events.publish(
        MembersMerged(source_id=str(source.pk), target_id=str(target.pk), automatic=automatic)
    )
    logger.info(
        "members.merged",
        extra={
            "source_id": str(source.pk),
            "target_id": str(target.pk),
            "automatic": automatic,
            "identities_moved": identities_moved,
        },
    )
    return merge
