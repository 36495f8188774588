"""How a sale splits: the pure computation, and the per-tenant snapshot of rules and contracts.

The rounding rule (the only one): every party's exact share of the sale is computed first
(unrounded), then the sale's total is divided between those shares with `atrium.money.allocate`,
largest remainder to the cent; so a sale's allocating lines always sum exactly to its total.
A subsidy (the mall funding a coupon or discount) is a pair of lines +X merchant / −X mall with
X = `to_cny(rate × funded money)`, summing to zero. Refunds are in `services/split.py`.

A sale is cut into cells, one per (item category, payment method) with the money
`item × payment / total`. In each cell the channel takes its fee first (none for points: they
are the mall's own money), then the mall its commission (a split rule of kind `commission`, or
the contract in force: concession, rent plus commission and guaranteed minimum take the
category's rate or the contract's rate, fixed rent takes none), then the platform its fee; rates
are capped so that no share goes below zero; the merchant keeps the rest.

Rules and contracts change rarely: they are read once per process per tenant into a
`Snapshot` and reused for every sale until a publish (or a new contract) bumps the tenant's
generation in the cache; checking it costs one cache read, no database query.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from apps.merchants.choices import ContractKind
from apps.merchants.models import Contract
from apps.settlement.choices import LineKind, Party, RuleKind, RuleStatus
from apps.settlement.models import SplitRule
from atrium.money import allocate, to_cny
from atrium.tenancy import current_schema

POINTS_METHOD = "points"
ZERO = Decimal(0)
ONE = Decimal(1)
_GENERATION_KEY = "settlement:split:generation"


@dataclass(frozen=True)
class RuleView:
    """A published split rule version, as the engine reads it."""

    id: uuid.UUID
    rule_key: uuid.UUID
    version: int
    name: str
    kind: str
    rate: Decimal
    priority: int
    enabled: bool
    business_format: str
    merchant_id: uuid.UUID | None
    category: str
    payment_method: str
    campaign: str
    effective_from: dt.date
    effective_to: dt.date | None

    @property
    def specificity(self) -> int:
        """How narrow the scope is: a merchant beats a category, which beats a campaign, then a
        payment method, then a business format (weights chosen so no sum of lower ones ties)."""
        return (
            16 * (self.merchant_id is not None)
            + 8 * bool(self.category)
            + 4 * bool(self.campaign)
            + 2 * bool(self.payment_method)
            + bool(self.business_format)
        )

    def matches(
        self,
        *,
        merchant_id: uuid.UUID,
        business_format: str,
        category: str,
        method: str,
        campaign: str,
    ) -> bool:
        return (
            (not self.business_format or self.business_format == business_format)
            and (self.merchant_id is None or self.merchant_id == merchant_id)
            and (not self.category or self.category == category)
            and (not self.payment_method or self.payment_method == method)
            and (not self.campaign or self.campaign == campaign)
        )


@dataclass(frozen=True)
class ContractView:
    """A contract version, as the engine reads it."""

    id: uuid.UUID
    kind: str
    commission_rate: Decimal
    category_rates: Mapping[str, Decimal]
    effective_from: dt.date
    effective_to: dt.date | None
    created_at: dt.datetime

    def covers(self, day: dt.date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )


@dataclass(frozen=True)
class Snapshot:
    """Every published split rule and every contract of one tenant, read once."""

    rules: tuple[RuleView, ...] = ()
    contracts: Mapping[uuid.UUID, tuple[ContractView, ...]] = field(default_factory=dict)
    # What applies to a cell (merchant, format, category, method, campaign, day), worked out
    # once per snapshot: the rules and contracts behind it never change while it is current.
    cells: dict[tuple[object, ...], _Cell] = field(default_factory=dict, compare=False, repr=False)

    def contract_on(self, *, merchant_id: uuid.UUID, day: dt.date) -> ContractView | None:
        """Like `merchants.selectors.contract_in_force`: the latest version covering `day`."""
        for contract in self.contracts.get(merchant_id, ()):  # newest first
            if contract.covers(day):
                return contract
        return None

    def rules_on(self, day: dt.date) -> list[RuleView]:
        """Per rule, the newest published version started by `day`, if it is on and covers it."""
        newest: dict[uuid.UUID, RuleView] = {}
        for rule in self.rules:
            if rule.effective_from > day:
                continue
            held = newest.get(rule.rule_key)
            if held is None or rule.version > held.version:
                newest[rule.rule_key] = rule
        return [
            rule
            for rule in newest.values()
            if rule.enabled and (rule.effective_to is None or day <= rule.effective_to)
        ]


# --- the snapshot cache ----------------------------------------------------------------------

_snapshots: dict[str, tuple[str, Snapshot]] = {}


def _generation() -> str:
    token = cache.get(_GENERATION_KEY)
    if token is None:
        cache.add(_GENERATION_KEY, uuid.uuid4().hex, timeout=None)
        token = cache.get(_GENERATION_KEY)
    return str(token)


def _load() -> Snapshot:
    rules = tuple(
        RuleView(
            id=r.pk,
            rule_key=r.rule_key,
            version=r.version,
            name=r.name,
            kind=r.kind,
            rate=r.rate,
            priority=r.priority,
            enabled=r.enabled,
            business_format=r.business_format,
            merchant_id=r.merchant_id,
            category=r.category,
            payment_method=r.payment_method,
            campaign=r.campaign,
            effective_from=r.effective_from,
            effective_to=r.effective_to,
        )
        for r in SplitRule.objects.filter(status=RuleStatus.PUBLISHED)
    )
    contracts: dict[uuid.UUID, list[ContractView]] = {}
    for c in Contract.objects.order_by("merchant_id", "-effective_from", "-created_at"):
        contracts.setdefault(c.merchant_id, []).append(
            ContractView(
                id=c.pk,
                kind=c.kind,
                commission_rate=c.commission_rate,
                category_rates={k: Decimal(str(v)) for k, v in (c.category_rates or {}).items()},
                effective_from=c.effective_from,
                effective_to=c.effective_to,
                created_at=c.created_at,
            )
        )
    return Snapshot(rules=rules, contracts={k: tuple(v) for k, v in contracts.items()})


def snapshot() -> Snapshot:
    """The tenant's rules and contracts, from this process's cache while still current."""
    schema = current_schema()
    token = _generation()  # read before loading: a publish meanwhile makes the next call reload
    held = _snapshots.get(schema)
    if held is not None and held[0] == token:
        return held[1]
    loaded = _load()
    _snapshots[schema] = (token, loaded)
    return loaded


def invalidate() -> None:
    """Make every process reload this tenant's rules: now, and again once the change commits
    (so no process keeps a snapshot read between the two)."""

    def bump() -> None:
        cache.set(_GENERATION_KEY, uuid.uuid4().hex, timeout=None)

    _snapshots.pop(current_schema(), None)
    bump()
    transaction.on_commit(bump)


# --- the computation -------------------------------------------------------------------------


@dataclass(frozen=True)
class Portion:
    """A part of a sale: a payment (key = method) or an item (key = category)."""

    key: str
    amount: Decimal


@dataclass(frozen=True)
class PlannedLine:
    """One line a sale would write."""

    party: str
    kind: str
    amount: Decimal
    rule_id: uuid.UUID | None
    why: str


@dataclass(frozen=True)
class _Share:
    rate: Decimal
    rule: RuleView | None
    why: str


_KEEPS = _Share(ONE, None, "the merchant keeps the rest")


_RULE_BASIS = re.compile(
    r"^rule (?P<name>.+) v(?P<version>\d+): (?P<mall>mall funds )?(?P<rate>\S+%)$"
)
_CONTRACT_BASIS = re.compile(r"^contract (?P<kind>[a-z_]+)(?: (?P<category>.+))?: (?P<rate>\S+%)$")


def describe_basis(why: str) -> str:
    """A line's stored basis (`why`, kept verbatim for audit) in the reader's language."""
    if why == _KEEPS.why:
        return _("商户所得为其余部分")
    if match := _RULE_BASIS.match(why):
        values = {"name": match["name"], "version": match["version"], "rate": match["rate"]}
        if match["mall"]:
            return _("规则「%(name)s」v%(version)s：商场承担 %(rate)s") % values
        return _("规则「%(name)s」v%(version)s：%(rate)s") % values
    if (match := _CONTRACT_BASIS.match(why)) and match["kind"] in ContractKind.values:
        kind = ContractKind(match["kind"]).label
        if match["category"]:
            return _("合同（%(kind)s）品类 %(category)s：%(rate)s") % {
                "kind": kind,
                "category": match["category"],
                "rate": match["rate"],
            }
        return _("合同（%(kind)s）：%(rate)s") % {"kind": kind, "rate": match["rate"]}
    return why


def _winner(rules: Iterable[RuleView]) -> RuleView | None:
    ranked = sorted(
        rules, key=lambda r: (r.priority, r.specificity, r.effective_from, r.version, str(r.id))
    )
    return ranked[-1] if ranked else None


def _rate_text(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def _rule_share(rule: RuleView) -> _Share:
    return _Share(rule.rate, rule, f"rule {rule.name} v{rule.version}: {_rate_text(rule.rate)}")


def _commission(
    contract: ContractView | None, category: str, rule: RuleView | None
) -> _Share | None:
    if rule is not None:
        return _rule_share(rule)
    if contract is None:
        return None
    if contract.kind == ContractKind.FIXED_RENT:
        return None
    rate = contract.category_rates.get(category)
    if rate is not None:
        return _Share(rate, None, f"contract {contract.kind} {category}: {_rate_text(rate)}")
    rate = contract.commission_rate
    return _Share(rate, None, f"contract {contract.kind}: {_rate_text(rate)}")


def portions(total: Decimal, parts: Sequence[Portion]) -> tuple[Portion, ...]:
    """The parts when they sum to the total, else the whole total as one part without a key."""
    if parts and sum((p.amount for p in parts), ZERO) == total:
        return tuple(p for p in parts if p.amount > 0)
    return (Portion("", total),)


@dataclass(frozen=True)
class _Cell:
    """The shares of one cell: (party, kind, line key, rate) in order, the merchant's last, and
    the subsidy (line key, rate) if a subsidy rule applies."""

    shares: tuple[tuple[str, str, tuple[str, str, uuid.UUID | None, str], Decimal], ...]
    subsidy: tuple[tuple[uuid.UUID, str], Decimal] | None


_MAX_CELLS = 10_000


def _line_key(party: str, kind: str, share: _Share) -> tuple[str, str, uuid.UUID | None, str]:
    return (party, kind, share.rule.id if share.rule else None, share.why)


def _cell(
    snap: Snapshot,
    *,
    merchant_id: uuid.UUID,
    business_format: str,
    category: str,
    method: str,
    campaign: str,
    day: dt.date,
) -> _Cell:
    key = (merchant_id, business_format, category, method, campaign, day)
    held = snap.cells.get(key)
    if held is not None:
        return held
    matching = [
        r
        for r in snap.rules_on(day)
        if r.matches(
            merchant_id=merchant_id,
            business_format=business_format,
            category=category,
            method=method,
            campaign=campaign,
        )
    ]

    def best(kind: str) -> RuleView | None:
        return _winner(r for r in matching if r.kind == kind)

    contract = snap.contract_on(merchant_id=merchant_id, day=day)
    left = ONE
    fee: _Share | None = None
    if method != POINTS_METHOD and (rule := best(RuleKind.CHANNEL_FEE)):
        fee = _rule_share(rule)
    commission = _commission(contract, category, best(RuleKind.COMMISSION))
    platform_rule = best(RuleKind.PLATFORM_FEE)
    platform = _rule_share(platform_rule) if platform_rule else None
    shares = []
    for party, kind, share in (
        (Party.CHANNEL, LineKind.CHANNEL_FEE, fee),
        (Party.MALL, LineKind.COMMISSION, commission),
        (Party.PLATFORM, LineKind.PLATFORM_FEE, platform),
    ):
        if share is not None:
            rate = min(share.rate, left)
            left -= rate
            shares.append((str(party), str(kind), _line_key(party, kind, share), rate))
    keeps = _line_key(Party.MERCHANT, LineKind.MERCHANT_SHARE, _KEEPS)
    shares.append((str(Party.MERCHANT), str(LineKind.MERCHANT_SHARE), keeps, left))
    subsidy = None
    if rule := best(RuleKind.SUBSIDY):
        why = f"rule {rule.name} v{rule.version}: mall funds {_rate_text(rule.rate)}"
        subsidy = ((rule.id, why), rule.rate)
    cell = _Cell(tuple(shares), subsidy)
    if len(snap.cells) >= _MAX_CELLS:
        snap.cells.clear()
    snap.cells[key] = cell
    return cell


def plan_split(
    *,
    snap: Snapshot,
    merchant_id: uuid.UUID,
    business_format: str,
    total: Decimal,
    payments: Sequence[Portion],
    items: Sequence[Portion] = (),
    campaign: str = "",
    day: dt.date,
) -> list[PlannedLine]:
    """The lines of a sale: allocating lines summing exactly to `total`, then subsidy pairs.

    `total` must be positive; payments and items are used when they sum to it.
    """
    if total <= 0:
        raise ValueError("a sale's total is positive")
    weights: dict[tuple[str, str, uuid.UUID | None, str], Decimal] = {}
    subsidies: dict[tuple[uuid.UUID, str], Decimal] = {}
    for item in portions(total, items):
        for payment in portions(total, payments):
            amount = item.amount * payment.amount / total
            cell = _cell(
                snap,
                merchant_id=merchant_id,
                business_format=business_format,
                category=item.key,
                method=payment.key,
                campaign=campaign,
                day=day,
            )
            for _party, _kind, key, rate in cell.shares:
                if rate > 0:
                    weights[key] = weights.get(key, ZERO) + amount * rate
            if cell.subsidy is not None:
                funded_by, subsidy_rate = cell.subsidy
                subsidies[funded_by] = subsidies.get(funded_by, ZERO) + amount * subsidy_rate
    keys = list(weights)
    lines = [
        PlannedLine(party, kind, amount, rule_id, why)
        for (party, kind, rule_id, why), amount in zip(
            keys, allocate(total, [weights[k] for k in keys]), strict=True
        )
        if amount != 0
    ]
    for (rule_id, why), exact in subsidies.items():
        funded = to_cny(exact)
        if funded > 0:
            lines.append(PlannedLine(Party.MERCHANT, LineKind.SUBSIDY, funded, rule_id, why))
            lines.append(PlannedLine(Party.MALL, LineKind.SUBSIDY, -funded, rule_id, why))
    return lines
