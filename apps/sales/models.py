"""Sales from every till (POS, merchant portal, CSV import, receipt approval) and their refunds.

A `Sale` is recorded once per (merchant, external id): the request hash stored on it lets a retry
get the first result back and a different body be refused. It keeps what it earned (points,
growth) and what its refunds took back, so partial refunds reverse in proportion without drift.
A sale without a member is recorded too (the member share of a mall's sales needs the rest).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from apps.sales.choices import Channel, MemberRefKind, PaymentMethod, ReceiptStatus, SaleStatus


class Sale(models.Model):
    """One sale at one merchant, identified by the merchant's own ticket id (`external_id`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by the (merchant, external_id) constraint and the composite indexes below: every
    # index is paid by every sale (docs/adr/0016-sale-writer-round-trips.md).
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="sales", db_index=False
    )
    member = models.ForeignKey(
        "members.Member",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    external_id = models.CharField(max_length=64)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    occurred_at = models.DateTimeField()
    total = models.DecimalField(max_digits=14, decimal_places=2)
    eligible_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    points_earned = models.BigIntegerField(default=0)
    growth_earned = models.BigIntegerField(default=0)
    # The first answer's member figures, replayed to a retry exactly as first given.
    points_balance = models.BigIntegerField(null=True, blank=True)
    tier_code = models.CharField(max_length=32, blank=True)
    refunded_total = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))
    points_reversed = models.BigIntegerField(default=0)
    growth_reversed = models.BigIntegerField(default=0)
    status = models.CharField(
        max_length=20, choices=SaleStatus.choices, default=SaleStatus.RECORDED
    )
    member_ref_kind = models.CharField(
        max_length=16, choices=MemberRefKind.choices, blank=True, default=MemberRefKind.NONE
    )
    request_hash = models.CharField(max_length=64)
    actor = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-occurred_at", "-id")
        constraints = (
            models.UniqueConstraint(
                fields=("merchant", "external_id"), name="sale_merchant_external_id_uniq"
            ),
            models.CheckConstraint(condition=Q(total__gt=0), name="sale_total_positive"),
            models.CheckConstraint(
                condition=Q(refunded_total__gte=0) & Q(refunded_total__lte=F("total")),
                name="sale_refunded_within_total",
            ),
            models.CheckConstraint(
                condition=Q(points_reversed__gte=0)
                & Q(points_reversed__lte=F("points_earned"))
                & Q(growth_reversed__gte=0)
                & Q(growth_reversed__lte=F("growth_earned")),
                name="sale_reversed_within_earned",
            ),
        )
        indexes = (
            models.Index(fields=("-occurred_at", "-id"), name="sale_occurred_idx"),
            models.Index(fields=("merchant", "-occurred_at", "-id"), name="sale_merchant_idx"),
            models.Index(
                fields=("member", "-occurred_at"),
                condition=Q(member__isnull=False),
                name="sale_member_idx",
            ),
        )

    def __str__(self) -> str:
        return f"{self.external_id} ¥{self.total}"

    @property
    def refundable(self) -> Decimal:
        return self.total - self.refunded_total


class SaleItem(models.Model):
    """One line of a sale; lines sum to the sale's total when a till sends them."""

    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    sku = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=64, blank=True)
    quantity = models.DecimalField(max_digits=12, decimal_places=3, default=Decimal(1))
    amount = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ("sale", "position")
        constraints = (
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="sale_item_amount_not_negative"
            ),
        )

    def __str__(self) -> str:
        return f"{self.name or self.sku} ¥{self.amount}"


class SalePayment(models.Model):
    """How part of a sale was paid; payments sum to the sale's total."""

    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name="payments")
    position = models.PositiveSmallIntegerField()
    method = models.CharField(max_length=16, choices=PaymentMethod.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    trade_no = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("sale", "position")
        constraints = (
            models.CheckConstraint(condition=Q(amount__gt=0), name="sale_payment_amount_positive"),
        )

    def __str__(self) -> str:
        return f"{self.method} ¥{self.amount}"


class Refund(models.Model):
    """A full or partial refund of a sale, with the points and growth it took back."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sale = models.ForeignKey(Sale, on_delete=models.PROTECT, related_name="refunds")
    refund_id = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    points_requested = models.BigIntegerField(default=0)
    points_reversed = models.BigIntegerField(default=0)
    growth_reversed = models.BigIntegerField(default=0)
    points_balance = models.BigIntegerField(null=True, blank=True)
    actor = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")
        constraints = (
            models.UniqueConstraint(
                fields=("sale", "refund_id"), name="refund_sale_refund_id_uniq"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        )

    def __str__(self) -> str:
        return f"{self.refund_id} ¥{self.amount}"


class Receipt(models.Model):
    """A receipt photo a member uploaded for points (小票积分), waiting for staff review."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="receipts"
    )
    receipt_no = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    occurred_on = models.DateField()
    # Relative to the tenant's private folder (PRIVATE_ROOT/<schema>/); never a URL.
    photo_path = models.CharField(max_length=200)
    photo_content_type = models.CharField(max_length=32)
    status = models.CharField(
        max_length=16, choices=ReceiptStatus.choices, default=ReceiptStatus.PENDING
    )
    reason = models.CharField(max_length=200, blank=True)
    reviewed_by = models.CharField(max_length=64, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    sale = models.OneToOneField(
        Sale, null=True, blank=True, on_delete=models.PROTECT, related_name="receipt"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = (
            # A rejected receipt (a blurry photo) may be uploaded again; any other is a duplicate.
            models.UniqueConstraint(
                fields=("merchant", "receipt_no"),
                condition=~Q(status=ReceiptStatus.REJECTED),
                name="receipt_merchant_no_uniq",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="receipt_amount_positive"),
            models.CheckConstraint(
                condition=Q(status=ReceiptStatus.APPROVED, sale__isnull=False)
                | (~Q(status=ReceiptStatus.APPROVED) & Q(sale__isnull=True)),
                name="receipt_sale_iff_approved",
            ),
        )
        indexes = (
            models.Index(fields=("status", "-created_at", "-id"), name="receipt_queue_idx"),
            models.Index(fields=("member", "-created_at"), name="receipt_member_idx"),
        )

    def __str__(self) -> str:
        return f"{self.receipt_no} ({self.status})"
