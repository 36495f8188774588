"""Reads of merchants and their API keys."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import Q, QuerySet

from apps.merchants.errors import (
    ApiKeyNotFoundError,
    BusinessFormatNotFoundError,
    MerchantNotFoundError,
)
from apps.merchants.models import ApiKey, BusinessFormat, Contract, Merchant


def list_merchants(
    *, query: str | None = None, business_format: str | None = None, status: str | None = None
) -> QuerySet[Merchant]:
    """The mall's merchants, newest first; `query` searches name, brand and unit."""
    queryset = Merchant.objects.order_by("-created_at", "-id")
    if query and query.strip():
        text = query.strip()
        queryset = queryset.filter(
            Q(name__icontains=text) | Q(brand__icontains=text) | Q(unit__icontains=text)
        )
    if business_format:
        queryset = queryset.filter(business_format=business_format)
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def list_business_formats() -> QuerySet[BusinessFormat]:
    """The mall's business formats in display order (the defaults on first use)."""
    from apps.merchants.services import seed_business_formats

    seed_business_formats()
    return BusinessFormat.objects.order_by("position", "code")


def get_business_format(*, code: str) -> BusinessFormat:
    """One business format. Raises BusinessFormatNotFoundError."""
    found = BusinessFormat.objects.filter(code=code).first()
    if found is None:
        raise BusinessFormatNotFoundError("unknown business format", format_code=code)
    return found


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
