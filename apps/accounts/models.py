"""A mall's staff and its merchants' staff: one table in the tenant schema, role-scoped."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from apps.accounts.choices import MALL_ROLES, MERCHANT_ROLES, StaffRole


class StaffUser(models.Model):
    """A person who works for the mall (console) or for one of its merchants (merchant portal)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    username = models.CharField(max_length=150, unique=True)
    email = models.EmailField(blank=True)
    display_name = models.CharField(max_length=150, blank=True)
    password = models.CharField(max_length=256, blank=True)
    role = models.CharField(max_length=32, choices=StaffRole.choices)
    merchant = models.ForeignKey(
        "merchants.Merchant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
    )
    is_active = models.BooleanField(default=True)
    invitation_hash = models.CharField(max_length=64, blank=True, db_index=True)
    invitation_expires_at = models.DateTimeField(null=True, blank=True)
    last_login_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("created_at", "id")
        constraints = (
            models.CheckConstraint(
                condition=(
                    Q(merchant__isnull=True, role__in=sorted(MALL_ROLES))
                    | Q(merchant__isnull=False, role__in=sorted(MERCHANT_ROLES))
                ),
                name="staff_role_matches_merchant",
            ),
        )

    def __str__(self) -> str:
        return self.username

    @property
    def is_merchant_staff(self) -> bool:
        return self.merchant_id is not None

    @property
    def has_password(self) -> bool:
        return bool(self.password)
