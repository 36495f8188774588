"""The earning-rule editor's two questions, answered from sales:
"what would this sale earn, and why" (`preview_sale`) and "what would this rule change have done
to the last 30 days of sales" (`backtest_rules`). Both only read: nothing is recorded."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import timezone

from apps.loyalty import selectors as loyalty_selectors
from apps.loyalty.selectors import list_tiers, points_summary, rules_in_force
from apps.loyalty.services.earning import EarnQuote, backtest, earned_on_day, local_day, quote_sale
from apps.members.models import Member
from apps.merchants.models import Merchant
from apps.sales import selectors
from apps.sales.errors import SaleInvalidError
from apps.sales.services.sales import ItemLine, PaymentLine, clean_sale

if TYPE_CHECKING:  # annotations only: the rules are read through loyalty's selectors
    from apps.loyalty.models import EarningRule, Tier

BACKTEST_MAX_DAYS = 90
BACKTEST_MAX_SALES = 200_000


@dataclass(frozen=True)
class BacktestResult:
    days: int
    since: dt.datetime
    until: dt.datetime
    sales: int
    points_before: int
    points_after: int
    points_delta: int
    cost_before: Decimal
    cost_after: Decimal
    cost_delta: Decimal
    truncated: bool


def find_rules(rule_ids: Sequence[uuid.UUID]) -> list[EarningRule]:
    """Rules by id, in the order asked. Raises SaleInvalidError naming the unknown ones."""
    found = loyalty_selectors.rules_by_id(rule_ids=rule_ids)
    missing = [str(rule_id) for rule_id in rule_ids if rule_id not in found]
    if missing:
        raise SaleInvalidError("unknown earning rules", field="rule_ids", missing=missing)
    return [found[rule_id] for rule_id in rule_ids]


def draft_rule(**fields: object) -> EarningRule:
    """An unsaved rule from the editor's fields, for a preview or backtest only."""
    return loyalty_selectors.draft_rule(**fields)


def _with_changes(
    current: Sequence[EarningRule], added: Sequence[EarningRule], removed: Sequence[EarningRule]
) -> list[EarningRule]:
    """Rules in force with a change applied: a rule replaces the version it supersedes."""
    dropped = {rule.pk for rule in removed} | {
        rule.supersedes_id for rule in added if rule.supersedes_id is not None
    }
    known = {rule.pk for rule in current}
    return [rule for rule in current if rule.pk not in dropped] + [
        rule for rule in added if rule.pk not in known
    ]


def _tier_of(member: Member | None, tier_code: str | None) -> Tier | None:
    if member is not None:
        return points_summary(member=member).tier
    if tier_code:
        tier = list_tiers().filter(code=tier_code).first()
        if tier is None:
            raise SaleInvalidError("unknown tier", field="tier", tier=tier_code)
        return tier
    return None


def preview_sale(
    *,
    merchant: Merchant,
    occurred_at: dt.datetime,
    total: Decimal | str,
    payments: Sequence[PaymentLine],
    items: Sequence[ItemLine] = (),
    member: Member | None = None,
    tier_code: str | None = None,
    added_rules: Sequence[EarningRule] = (),
    removed_rules: Sequence[EarningRule] = (),
) -> EarnQuote:
    """What a sale would earn with the rules in force on its day (plus draft changes), and why.

    Raises SaleInvalidError, InvalidAmountError, TotalMismatchError.
    """
    sale = clean_sale(
        external_id="preview", occurred_at=occurred_at, total=total, payments=payments, items=items
    )
    day = local_day(sale.occurred_at)
    rules = _with_changes(list(rules_in_force(day)), added_rules, removed_rules)
    earned_today = (
        earned_on_day(member=member, day=day, source_type="sale") if member is not None else 0
    )
    return quote_sale(
        facts=sale.facts(merchant),
        tier=_tier_of(member, tier_code),
        earned_today=earned_today,
        rules=rules,
    )


def backtest_rules(
    *,
    added_rules: Sequence[EarningRule],
    removed_rules: Sequence[EarningRule] = (),
    days: int = 30,
    now: dt.datetime | None = None,
    max_sales: int = BACKTEST_MAX_SALES,
) -> BacktestResult:
    """Points and cost the last `days` of sales earned under today's rules, beside what they
    would have earned with the change (each member at their current tier).

    Raises SaleInvalidError for a period outside 1..90 days.
    """
    if not 1 <= days <= BACKTEST_MAX_DAYS:
        raise SaleInvalidError("backtest 1 to 90 days", field="days")
    until = now or timezone.now()
    since = until - dt.timedelta(days=days)
    current = list(rules_in_force(timezone.localdate(until)))
    proposed = _with_changes(current, added_rules, removed_rules)
    counted = backtest(
        sales=selectors.sales_for_backtest(since=since, until=until, limit=max_sales),
        current=current,
        proposed=proposed,
    )
    sales = int(counted["sales"])
    return BacktestResult(
        days=days,
        since=since,
        until=until,
        sales=sales,
        points_before=int(counted["points_before"]),
        points_after=int(counted["points_after"]),
        points_delta=int(counted["points_delta"]),
        cost_before=Decimal(counted["cost_before"]),
        cost_after=Decimal(counted["cost_after"]),
        cost_delta=Decimal(counted["cost_delta"]),
        truncated=sales >= max_sales,
    )
