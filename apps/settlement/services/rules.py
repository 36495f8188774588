"""Writing split rules: drafts, new versions of a rule, publishing.

A published version is never edited: changing a rule drafts its next version, which takes over
from its own `effective_from` once published (not before today: what is past stays as it was).
Publishing invalidates every process's cached snapshot of the tenant's rules.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.merchants.models import BusinessFormat, Merchant
from apps.merchants.services import seed_business_formats
from apps.sales.choices import PaymentMethod
from apps.settlement.choices import RuleKind, RuleStatus
from apps.settlement.models import SplitRule
from apps.settlement.split_errors import (
    SplitRuleBackdatedError,
    SplitRuleDraftExistsError,
    SplitRuleInvalidError,
    SplitRulePublishedError,
)
from apps.settlement.splitting import invalidate

RULE_FIELDS = (
    "name",
    "kind",
    "rate",
    "priority",
    "enabled",
    "business_format",
    "merchant",
    "category",
    "payment_method",
    "campaign",
    "effective_from",
    "effective_to",
)


def _check(rule: SplitRule) -> None:
    if not rule.name.strip():
        raise SplitRuleInvalidError("name is required", field="name")
    if rule.kind not in RuleKind.values:
        raise SplitRuleInvalidError("unknown rule kind", field="kind", kind=rule.kind)
    if not Decimal(0) <= rule.rate <= Decimal(1) or rule.rate != rule.rate.quantize(
        Decimal("0.0001")
    ):
        raise SplitRuleInvalidError("rate is between 0 and 1, at most 4 places", field="rate")
    if rule.payment_method and rule.payment_method not in PaymentMethod.values:
        raise SplitRuleInvalidError("unknown payment method", field="payment_method")
    if rule.kind == RuleKind.CHANNEL_FEE and rule.payment_method == PaymentMethod.POINTS:
        raise SplitRuleInvalidError("points carry no channel fee", field="payment_method")
    if rule.business_format:
        seed_business_formats()
        if not BusinessFormat.objects.filter(code=rule.business_format).exists():
            raise SplitRuleInvalidError("unknown business format", field="business_format")
    if rule.effective_to is not None and rule.effective_to < rule.effective_from:
        raise SplitRuleInvalidError("effective_to is before effective_from", field="effective_to")
    if abs(rule.priority) > 1_000_000:
        raise SplitRuleInvalidError("priority is within ±1,000,000", field="priority")


def _apply(rule: SplitRule, values: Mapping[str, object]) -> None:
    unknown = set(values) - set(RULE_FIELDS)
    if unknown:
        raise SplitRuleInvalidError("unknown fields", fields=sorted(unknown))
    for name, value in values.items():
        if name == "merchant":
            if value is not None and not isinstance(value, Merchant):
                raise SplitRuleInvalidError("merchant must be a merchant", field="merchant")
            rule.merchant = value
        elif name == "rate":
            rule.rate = Decimal(str(value))
        elif name in ("effective_from", "effective_to"):
            if value is not None and not isinstance(value, dt.date):
                raise SplitRuleInvalidError("not a date", field=name)
            setattr(rule, name, value)
        elif isinstance(value, str):
            setattr(rule, name, value.strip())
        else:
            setattr(rule, name, value)


def create_rule(*, values: Mapping[str, object], actor: str = "") -> SplitRule:
    """Draft a new rule (version 1). Raises SplitRuleInvalidError."""
    rule = SplitRule(created_by=actor, version=1, rule_key=uuid.uuid4())
    _apply(rule, {"effective_from": timezone.localdate(), **values})
    _check(rule)
    rule.save(force_insert=True)
    return rule


def update_draft(*, rule: SplitRule, values: Mapping[str, object]) -> SplitRule:
    """Change a draft. Raises SplitRulePublishedError (draft a new version), SplitRuleInvalidError."""
    if rule.status != RuleStatus.DRAFT:
        raise SplitRulePublishedError("a published rule is never edited: draft a new version")
    _apply(rule, values)
    _check(rule)
    rule.save()
    return rule


def delete_draft(*, rule: SplitRule) -> None:
    """Drop a draft. Raises SplitRulePublishedError."""
    if rule.status != RuleStatus.DRAFT:
        raise SplitRulePublishedError("a published rule is never deleted")
    rule.delete()


@transaction.atomic
def draft_next_version(
    *, rule: SplitRule, values: Mapping[str, object], actor: str = ""
) -> SplitRule:
    """Draft the next version of a rule, starting from the given version's values.

    Raises SplitRuleDraftExistsError, SplitRuleInvalidError.
    """
    versions = SplitRule.objects.select_for_update().filter(rule_key=rule.rule_key)
    if versions.filter(status=RuleStatus.DRAFT).exists():
        raise SplitRuleDraftExistsError(
            "this rule already has a draft", rule_key=str(rule.rule_key)
        )
    latest = versions.aggregate(v=Max("version"))["v"] or 0
    draft = SplitRule(
        rule_key=rule.rule_key,
        version=latest + 1,
        created_by=actor,
        **{name: getattr(rule, name) for name in RULE_FIELDS},
    )
    _apply(draft, {"effective_from": max(rule.effective_from, timezone.localdate()), **values})
    _check(draft)
    draft.save(force_insert=True)
    return draft


@transaction.atomic
def publish_rule(*, rule: SplitRule, actor: str = "", today: dt.date | None = None) -> SplitRule:
    """Publish a draft: in force from its `effective_from` (today or later), never edited again.

    Raises SplitRulePublishedError, SplitRuleBackdatedError.
    """
    today = today or timezone.localdate()
    locked = SplitRule.objects.select_for_update().get(pk=rule.pk)
    if locked.status != RuleStatus.DRAFT:
        raise SplitRulePublishedError("this version is already published", version=locked.version)
    if locked.effective_from < today:
        raise SplitRuleBackdatedError(
            "a rule version cannot start in the past: past sales keep their lines",
            effective_from=str(locked.effective_from),
        )
    locked.status = RuleStatus.PUBLISHED
    locked.published_at = timezone.now()
    locked.published_by = actor
    locked.save(update_fields=["status", "published_at", "published_by"])
    invalidate()
    return locked
