"""Reads of settlement statements. Merchant-facing reads take `merchant=` and never look
outside it: another merchant's statement is "not found"."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import Count, QuerySet, Sum

from apps.merchants.models import Merchant
from apps.settlement.models import Statement
from apps.settlement.statement_errors import StatementNotFoundError


def list_statements(
    *,
    status: str | None = None,
    merchant_id: uuid.UUID | None = None,
    period_end_from: dt.date | None = None,
    period_end_to: dt.date | None = None,
) -> QuerySet[Statement]:
    """Every merchant's statements, newest period first (console)."""
    query = Statement.objects.select_related("merchant")
    if status:
        query = query.filter(status=status)
    if merchant_id is not None:
        query = query.filter(merchant_id=merchant_id)
    if period_end_from is not None:
        query = query.filter(period_end__gte=period_end_from)
    if period_end_to is not None:
        query = query.filter(period_end__lte=period_end_to)
    return query.order_by("-period_end", "merchant__name", "pk")


def get_statement(*, statement_id: uuid.UUID) -> Statement:
    """Raises StatementNotFoundError."""
    statement = Statement.objects.select_related("merchant", "contract").filter(pk=statement_id)
    found = statement.first()
    if found is None:
        raise StatementNotFoundError("no such statement", statement_id=str(statement_id))
    return found


def list_merchant_statements(*, merchant: Merchant) -> QuerySet[Statement]:
    """The merchant's own statements that were issued to it (drafts stay with the mall)."""
    return (
        Statement.objects.select_related("merchant")
        .filter(merchant=merchant)
        .exclude(status="draft")
        .order_by("-period_end", "pk")
    )


def get_merchant_statement(*, merchant: Merchant, statement_id: uuid.UUID) -> Statement:
    """One of the merchant's issued statements. Raises StatementNotFoundError (also for another
    merchant's statement or a draft)."""
    found = list_merchant_statements(merchant=merchant).filter(pk=statement_id).first()
    if found is None:
        raise StatementNotFoundError("no such statement", statement_id=str(statement_id))
    return found


def dashboard_counts() -> dict[str, dict[str, object]]:
    """Per status: how many statements and their net payable (the settlement dashboard)."""
    rows = Statement.objects.values("status").annotate(n=Count("pk"), net=Sum("net_payable"))
    return {r["status"]: {"count": r["n"], "net": r["net"]} for r in rows}
