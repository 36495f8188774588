"""Every row lock of the members app (taken before loyalty's account locks, see STYLE.md §6)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from apps.members.models import Member


def members_for_update(*, member_ids: Sequence[uuid.UUID]) -> list[Member]:
    """Member rows locked in primary-key order, so two merges of the same pair cannot deadlock."""
    return list(
        Member.objects.select_for_update().filter(pk__in=sorted(set(member_ids))).order_by("pk")
    )
