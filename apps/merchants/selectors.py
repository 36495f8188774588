"""Reads of merchants and their API keys."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import Q, QuerySet

from apps.merchants.errors import ApiKeyNotFoundError, MerchantNotFoundError
from apps.merchants.models import ApiKey, Contract, Merchant


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


def in_force_on(day: dt.date) -> Q:
    """The filter of contract versions whose period covers `day` (effective_to inclusive)."""
    return Q(effective_from__lte=day) & (Q(effective_to__isnull=True) | Q(effective_to__gte=day))


def contract_in_force(*, merchant: Merchant, day: dt.date) -> Contract | None:
    """The merchant's contract version in force on `day`: the latest one starting on or before
    it whose period covers it (a newer version supersedes an older one), or None."""
    return (
        Contract.objects.filter(in_force_on(day), merchant=merchant)
        .order_by("-effective_from", "-created_at")
        .first()
    )


def list_contracts(*, merchant: Merchant) -> QuerySet[Contract]:
    """The merchant's contract history, newest version first."""
    return Contract.objects.filter(merchant=merchant).order_by("-effective_from", "-created_at")
