"""Members of a mall's program (a stub here; the membership issue builds identities on it)."""

from __future__ import annotations

import uuid

from django.db import models


class Member(models.Model):
    """One shopper's identity in one mall; not a Django user (a mall has millions)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    member_no = models.CharField(max_length=20, unique=True)
    display_name = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return self.member_no
