"""Reads of the program settings."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.loyalty.models import EarningRule, Tier


def list_tiers() -> QuerySet[Tier]:
    """Tiers from lowest to highest."""
    return Tier.objects.order_by("rank")


def base_earning_rule() -> EarningRule | None:
    """The current base earning rule."""
    return EarningRule.objects.filter(is_base=True).order_by("-effective_from").first()
