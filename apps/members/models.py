"""Members of a mall's program, their identities (phone, WeChat, card, ...) and consents.

Identifiers are personal data: each `MemberIdentity` keeps the normalized value encrypted
(`atrium.crypto.encrypt`) for display to permitted staff, and a keyed hash
(`atrium.crypto.keyed_hash`) for exact lookups, unique per kind across the mall.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from apps.members.choices import (
    ConsentKind,
    ConsentSource,
    Gender,
    IdentityKind,
    MemberStatus,
    RegistrationChannel,
)


class Member(models.Model):
    """One shopper's identity in one mall; not a Django user (a mall has millions).

    `is_active` is "may log in and earn": true exactly while `status` is active (services keep
    the two in step). A merged member points at the member that absorbed it (`merged_into`).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    member_no = models.CharField(max_length=20, unique=True)
    display_name = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    name = models.CharField(max_length=100, blank=True)
    gender = models.CharField(max_length=8, choices=Gender.choices, default=Gender.UNKNOWN)
    birthday = models.DateField(null=True, blank=True)
    registration_channel = models.CharField(
        max_length=16, choices=RegistrationChannel.choices, default=RegistrationChannel.APP
    )
    registered_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=8, choices=MemberStatus.choices, default=MemberStatus.ACTIVE
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_members"
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # The member code's TOTP secret (hex), encrypted; empty until the first code is shown.
    code_secret = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("created_at", "id")
        constraints = (
            models.CheckConstraint(
                condition=Q(status=MemberStatus.MERGED, merged_into__isnull=False)
                | (~Q(status=MemberStatus.MERGED) & Q(merged_into__isnull=True)),
                name="member_merged_into_iff_merged",
            ),
            models.CheckConstraint(
                condition=~Q(merged_into=F("id")), name="member_not_merged_into_itself"
            ),
        )
        indexes = (models.Index(fields=("-registered_at", "-id"), name="member_registered_idx"),)

    def __str__(self) -> str:
        return self.member_no


class MemberIdentity(models.Model):
    """A way to recognise a member: phone, WeChat openid/unionid, Alipay user, card, plate."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="identities")
    kind = models.CharField(max_length=16, choices=IdentityKind.choices)
    value_hash = models.CharField(max_length=64)
    value_encrypted = models.TextField()
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")
        constraints = (
            models.UniqueConstraint(
                fields=("kind", "value_hash"), name="member_identity_kind_value_uniq"
            ),
        )
        indexes = (models.Index(fields=("member", "kind"), name="member_identity_member_idx"),)

    def __str__(self) -> str:
        return f"{self.kind} of {self.member_id}"


class MemberConsent(models.Model):
    """One grant or withdrawal of a consent; the latest row per kind is in force."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="consents")
    kind = models.CharField(max_length=32, choices=ConsentKind.choices)
    granted = models.BooleanField()
    at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=16, choices=ConsentSource.choices)

    class Meta:
        ordering = ("-at", "-id")
        indexes = (
            models.Index(fields=("member", "kind", "-at"), name="member_consent_latest_idx"),
        )

    def __str__(self) -> str:
        return f"{self.kind}={self.granted} at {self.at:%Y-%m-%d}"


class MemberMerge(models.Model):
    """A merge of a duplicate member into another, by an operator or on a verified phone."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.OneToOneField(Member, on_delete=models.PROTECT, related_name="+")
    target = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+")
    actor = models.CharField(max_length=64)
    reason = models.CharField(max_length=200)
    automatic = models.BooleanField(default=False)
    identities_moved = models.PositiveIntegerField(default=0)
    consents_moved = models.PositiveIntegerField(default=0)
    ledger_entry_id = models.UUIDField(null=True, blank=True)  # loyalty's merge journal entry
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.source_id} -> {self.target_id}"
