"""Reads of split rules and split lines, and the preview of how a sale would split."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal

from django.db.models import QuerySet

from apps.merchants.models import Merchant
from apps.settlement.models import SplitLine, SplitRule
from apps.settlement.split_errors import SplitPreviewInvalidError, SplitRuleNotFoundError
from apps.settlement.splitting import PlannedLine, Portion, plan_split, snapshot


def list_rules(*, kind: str | None = None, status: str | None = None) -> QuerySet[SplitRule]:
    """Every version of every split rule, highest priority first."""
    queryset = SplitRule.objects.select_related("merchant").order_by(
        "-priority", "name", "rule_key", "-version"
    )
    if kind:
        queryset = queryset.filter(kind=kind)
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def get_rule(*, rule_id: uuid.UUID | str) -> SplitRule:
    """One rule version. Raises SplitRuleNotFoundError."""
    try:
        rule = SplitRule.objects.select_related("merchant").filter(pk=rule_id).first()
    except (ValueError, TypeError) as exc:
        raise SplitRuleNotFoundError("split rule not found") from exc
    if rule is None:
        raise SplitRuleNotFoundError("split rule not found")
    return rule


def list_rule_versions(*, rule: SplitRule) -> QuerySet[SplitRule]:
    """Every version of the rule, newest first."""
    return SplitRule.objects.filter(rule_key=rule.rule_key).order_by("-version")


def list_merchant_lines(
    *, merchant: Merchant, since: dt.date | None = None, until: dt.date | None = None
) -> QuerySet[SplitLine]:
    """This merchant's split lines (of its own sales only), newest first, by settle date."""
    queryset = SplitLine.objects.filter(merchant=merchant).select_related("sale", "refund")
    if since is not None:
        queryset = queryset.filter(settle_on__gte=since)
    if until is not None:
        queryset = queryset.filter(settle_on__lte=until)
    return queryset.order_by("-occurred_at", "-id")


def sale_lines(*, sale_id: uuid.UUID) -> list[SplitLine]:
    """The lines of one sale (the caller found the sale in its own scope first)."""
    return list(
        SplitLine.objects.filter(sale_id=sale_id)
        .select_related("refund", "rule")
        .order_by("refund__created_at", "party", "kind", "id")
    )


def preview_split(
    *,
    merchant: Merchant,
    total: Decimal,
    payments: Sequence[Portion],
    items: Sequence[Portion],
    campaign: str,
    day: dt.date,
) -> list[PlannedLine]:
    """How a sale would split today (or on `day`), with the rule or contract term behind each line.

    Raises SplitPreviewInvalidError when payments do not sum to the total.
    """
    amount = total
    if sum((p.amount for p in payments), Decimal(0)) != amount:
        raise SplitPreviewInvalidError("payments must sum to the total", total=str(amount))
    if items and sum((i.amount for i in items), Decimal(0)) != amount:
        raise SplitPreviewInvalidError("items must sum to the total", total=str(amount))
    return plan_split(
        snap=snapshot(),
        merchant_id=merchant.pk,
        business_format=merchant.business_format,
        total=amount,
        payments=payments,
        items=items,
        campaign=campaign,
        day=day,
    )
