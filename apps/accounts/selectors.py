"""Reads of staff accounts."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.errors import StaffNotFoundError
from apps.accounts.models import StaffUser
from atrium.crypto import sha256_hex


def list_staff(*, merchant_id: uuid.UUID | None = None) -> QuerySet[StaffUser]:
    """Staff of the mall, or of one merchant."""
    queryset = StaffUser.objects.select_related("merchant")
    if merchant_id is not None:
        queryset = queryset.filter(merchant_id=merchant_id)
    return queryset.order_by("-created_at", "-id")


def get_staff(*, staff_id: uuid.UUID | str) -> StaffUser:
    """One staff account. Raises StaffNotFoundError."""
    try:
        return StaffUser.objects.select_related("merchant").get(pk=staff_id)
    except (StaffUser.DoesNotExist, ValueError, TypeError) as exc:
        raise StaffNotFoundError("staff account not found") from exc


def get_active_staff(*, staff_id: str) -> StaffUser | None:
    """The active staff account behind a token, or None."""
    try:
        return (
            StaffUser.objects.select_related("merchant").filter(pk=staff_id, is_active=True).first()
        )
    except ValueError:
        return None


def get_invited_staff(*, token: str) -> StaffUser | None:
    """The active account an unexpired invitation token belongs to, or None."""
    return (
        StaffUser.objects.select_related("merchant")
        .filter(
            invitation_hash=sha256_hex(token),
            is_active=True,
            invitation_expires_at__gt=timezone.now(),
        )
        .first()
    )
