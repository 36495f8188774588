"""Reads of merchants and their API keys."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from apps.merchants.errors import ApiKeyNotFoundError, MerchantNotFoundError
from apps.merchants.models import ApiKey, Merchant


def list_merchants() -> QuerySet[Merchant]:
    """Every merchant of the mall, newest first."""
    return Merchant.objects.order_by("-created_at", "-id")


def get_merchant(*, merchant_id: uuid.UUID | str) -> Merchant:
    """One merchant. Raises MerchantNotFoundError."""
    try:
        return Merchant.objects.get(pk=merchant_id)
    except (Merchant.DoesNotExist, ValueError) as exc:
        raise MerchantNotFoundError("merchant not found") from exc


def list_api_keys(*, merchant: Merchant) -> QuerySet[ApiKey]:
    """The merchant's keys, live and revoked, newest first."""
    return ApiKey.objects.filter(merchant=merchant).order_by("-created_at")


def get_api_key(*, merchant: Merchant, key_id: str) -> ApiKey:
    """One key of this merchant (never another's). Raises ApiKeyNotFoundError."""
    key = ApiKey.objects.filter(merchant=merchant, key_id=key_id).first()
    if key is None:
        raise ApiKeyNotFoundError("API key not found")
    return key
