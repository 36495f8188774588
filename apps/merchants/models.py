"""Merchants of a mall and their machine credentials (POS API keys)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Q

from apps.merchants.choices import ContractKind, MerchantStatus, PayoutMethod, SettlementCycle


class BusinessFormat(models.Model):
    """A business format (业态) operators edit; merchants and rules refer to it by `code`."""

    code = models.SlugField(max_length=32, primary_key=True)
    name = models.CharField(max_length=64)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("position", "code")

    def __str__(self) -> str:
        return self.name


class Merchant(models.Model):
    """A brand store, restaurant or shop in the mall (grown by the merchants issue)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    # The format's code, not a foreign key: the earning and split engines read the string.
    business_format = models.CharField(max_length=32, default="retail")
    brand = models.CharField(max_length=100, blank=True)
    floor = models.CharField(max_length=16, blank=True)
    unit = models.CharField(max_length=32, blank=True)
    contact_name = models.CharField(max_length=64, blank=True)
    # Personal data: encrypted at rest (atrium.crypto), masked for staff without the permission.
    contact_phone_encrypted = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=MerchantStatus.choices, default=MerchantStatus.ACTIVE
    )
    # Relative to the tenant's private folder (PRIVATE_ROOT/<schema>/); never a URL.
    logo_path = models.CharField(max_length=200, blank=True)
    logo_content_type = models.CharField(max_length=32, blank=True)
    # Kept in step with `status` by the services (True only when active): older readers use it.
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """An HMAC key of one merchant's POS; the secret is encrypted at rest and shown once."""

    key_id = models.CharField(max_length=40, primary_key=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    secret_encrypted = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.key_id

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Contract(models.Model):
    """One version of a merchant's contract; never edited once effective, a new row supersedes.

    The version in force on a day is the one with the latest `effective_from` on or before it
    whose `effective_to` (inclusive) is empty or not before it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="contracts")
    kind = models.CharField(max_length=24, choices=ContractKind.choices)
    commission_rate = models.DecimalField(max_digits=5, decimal_places=4, default=Decimal(0))
    # {category: "0.1500"}: a category's own rate instead of `commission_rate`.
    category_rates = models.JSONField(default=dict, blank=True)
    rent_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    minimum_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    cycle = models.CharField(
        max_length=8, choices=SettlementCycle.choices, default=SettlementCycle.MONTHLY
    )
    payout_method = models.CharField(
        max_length=8, choices=PayoutMethod.choices, default=PayoutMethod.BANK
    )
    payout_account_name = models.CharField(max_length=100, blank=True)
    payout_account_encrypted = models.TextField(blank=True)
    payout_bank_name = models.CharField(max_length=100, blank=True)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("merchant", "-effective_from", "-created_at")
        constraints = (
            models.CheckConstraint(
                condition=Q(commission_rate__gte=0) & Q(commission_rate__lte=1),
                name="contract_commission_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(rent_amount__gte=0) & Q(minimum_amount__gte=0),
                name="contract_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_to__gte=models.F("effective_from")),
                name="contract_period_ordered",
            ),
        )
        indexes = (
            models.Index(fields=("merchant", "-effective_from"), name="contract_merchant_idx"),
        )

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.kind} from {self.effective_from}"
