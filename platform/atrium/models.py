"""Kernel models that live in every tenant schema, and abstract bases reused per schema."""

from __future__ import annotations

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class IdempotencyRecord(models.Model):
    """The first response to a write made with an `Idempotency-Key`, replayed on retries."""

    scope = models.CharField(max_length=120)
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("scope", "key"), name="idempotency_scope_key_uniq"),
        )

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class AbstractAuthSession(models.Model):
    """A login: one refresh token (stored hashed) and the access tokens minted from it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject_kind = models.CharField(max_length=16)
    subject_id = models.CharField(max_length=64)
    refresh_hash = models.CharField(max_length=64, unique=True)
    refresh_expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        indexes = (models.Index(fields=("subject_kind", "subject_id")),)

    def __str__(self) -> str:
        return f"{self.subject_kind}:{self.subject_id}"


class AuthSession(AbstractAuthSession):
    """Logins of a tenant's staff and members (the provider has its own table in public)."""


class OutboxEvent(models.Model):
    """A change announced in the same transaction as the change; the relay delivers it later."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    topic = models.CharField(max_length=100)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ("created_at", "id")
        indexes = (
            # The relay and the sweep only ever look for undelivered rows, oldest first.
            models.Index(
                fields=("created_at", "id"),
                condition=models.Q(delivered_at__isnull=True),
                name="outbox_undelivered_idx",
            ),
        )

    def __str__(self) -> str:
        return f"{self.topic}:{self.pk}"
