"""Reads of the clearing app: the policy in force, positions, liability and lines.

Merchant-facing reads take `merchant=` and never a merchant id from a request.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet, Sum
from django.utils import timezone

from apps.clearing.choices import ClearingRole, FundingSource
from apps.clearing.errors import DateRangeInvalidError
from apps.clearing.models import ClearingLine, FundingPolicy
from apps.loyalty.selectors import (
    open_points_by_issuer,
    points_expired_by_merchant,
    points_issued_by_merchant,
    program_settings,
)
from apps.merchants.models import Merchant
from atrium.money import allocate, to_cny

MAX_RANGE_DAYS = 366
ZERO = Decimal("0.00")


def policy_in_force(*, at: dt.datetime) -> FundingPolicy | None:
    """The funding policy in force at a moment (None: none set yet, merchant-funded)."""
    return FundingPolicy.objects.filter(effective_from__lte=at).order_by("-effective_from").first()


def policy_share(*, earned_at: dt.datetime) -> Decimal:
    """The issuing merchant's share of a merchant-issued lot earned at that moment (default 1:
    before any policy is set, the issuing merchant funds its own points)."""
    policy = policy_in_force(at=earned_at)
    return Decimal(1) if policy is None else policy.merchant_share


def current_policy() -> FundingPolicy | None:
    return policy_in_force(at=timezone.now())


def points_returned_by_lot(*, sale_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Points already given back by the refunds of a sale, by consumed lot."""
    rows = (
        ClearingLine.objects.filter(sale_id=sale_id, role=ClearingRole.ACCEPTOR)
        .exclude(refund_id="")
        .values("lot_id")
        .annotate(points=Sum("points"))
    )
    return {row["lot_id"]: -int(row["points"]) for row in rows}


def _local_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    if end < start or (end - start).days > MAX_RANGE_DAYS:
        raise DateRangeInvalidError(
            f"end must be on or after start, at most {MAX_RANGE_DAYS} days apart",
            start=start.isoformat(),
            end=end.isoformat(),
        )
    zone = timezone.get_default_timezone()
    since = dt.datetime.combine(start, dt.time(), tzinfo=zone)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return since, until


@dataclass(frozen=True)
class Position:
    """A merchant's clearing figures over local dates [start, end] (lines by settle_on)."""

    merchant_id: uuid.UUID
    merchant_name: str
    points_issued: int
    points_accepted: int  # net of refunds
    points_funded: int  # points of its lots spent anywhere, net of refunds (its share)
    points_expired: int
    accepted_amount: Decimal
    funded_amount: Decimal  # negative: what it pays for its points spent
    net_amount: Decimal  # accepted + funded: + the mall owes it, − it owes the mall


def _positions(
    merchants: list[Merchant], start: dt.date, end: dt.date, *, one: bool
) -> list[Position]:
    since, until = _local_bounds(start, end)
    only = merchants[0].pk if one else None
    issued = points_issued_by_merchant(since=since, until=until, merchant_id=only)
    expired = points_expired_by_merchant(since=since, until=until, merchant_id=only)
    lines = ClearingLine.objects.filter(settle_on__gte=start, settle_on__lte=end)
    lines = lines.filter(merchant=merchants[0]) if one else lines.filter(merchant__isnull=False)
    sums: dict[uuid.UUID, dict[str, tuple[int, Decimal]]] = defaultdict(dict)
    for row in lines.values("merchant_id", "role").annotate(
        points=Sum("points"), amount=Sum("amount")
    ):
        sums[row["merchant_id"]][row["role"]] = (int(row["points"]), row["amount"])
    out = []
    for merchant in merchants:
        mine = sums.get(merchant.pk, {})
        accepted = mine.get(ClearingRole.ACCEPTOR, (0, ZERO))
        funded = mine.get(ClearingRole.FUNDER, (0, ZERO))
        out.append(
            Position(
                merchant_id=merchant.pk,
                merchant_name=merchant.name,
                points_issued=issued.get(merchant.pk, 0),
                points_accepted=accepted[0],
                points_funded=-funded[0],
                points_expired=expired.get(merchant.pk, 0),
                accepted_amount=to_cny(accepted[1]),
                funded_amount=to_cny(funded[1]),
                net_amount=to_cny(accepted[1] + funded[1]),
            )
        )
    return out


def merchant_position(*, merchant: Merchant, start: dt.date, end: dt.date) -> Position:
    """One merchant's position (the merchant portal). Raises DateRangeInvalidError."""
    return _positions([merchant], start, end, one=True)[0]


def all_positions(*, start: dt.date, end: dt.date) -> list[Position]:
    """Every merchant's position, by name (the console). Raises DateRangeInvalidError."""
    return _positions(list(Merchant.objects.order_by("name", "id")), start, end, one=False)


@dataclass(frozen=True)
class LiabilityRow:
    funder_merchant_id: uuid.UUID | None  # None: the mall
    funder_name: str
    points: int
    amount: Decimal


@dataclass(frozen=True)
class Liability:
    point_value: Decimal
    points: int
    amount: Decimal
    rows: list[LiabilityRow]


def outstanding_liability(*, now: dt.datetime | None = None) -> Liability:
    """Open (unexpired, unspent) points in yuan at today's clearing value, by who would fund them
    if spent now: each lot split by the policy in force when it was earned."""
    now = now or timezone.now()
    value = program_settings().point_value
    policies = list(FundingPolicy.objects.order_by("effective_from", "created_at"))
    windows: list[tuple[dt.datetime | None, dt.datetime | None, Decimal]] = []
    starts: list[dt.datetime | None] = [None, *[p.effective_from for p in policies]]
    shares = [Decimal(1), *[p.merchant_share for p in policies]]
    for index, share in enumerate(shares):
        end = starts[index + 1] if index + 1 < len(starts) else None
        windows.append((starts[index], end, share))
    points: dict[uuid.UUID | None, int] = defaultdict(int)
    amounts: dict[uuid.UUID | None, Decimal] = defaultdict(lambda: ZERO)
    total_points = 0
    for since, until, share in windows:
        for issuer, open_points in open_points_by_issuer(
            now=now, earned_from=since, earned_before=until
        ).items():
            total_points += open_points
            amount = to_cny(open_points * value)
            if issuer is None:
                points[None] += open_points
                amounts[None] += amount
                continue
            merchant_amount, mall_amount = allocate(amount, [share, 1 - share])
            merchant_points, mall_points = allocate(Decimal(open_points) / 100, [share, 1 - share])
            points[issuer] += int(merchant_points * 100)
            amounts[issuer] += merchant_amount
            points[None] += int(mall_points * 100)
            amounts[None] += mall_amount
    names = dict(
        Merchant.objects.filter(pk__in=[k for k in points if k is not None]).values_list(
            "pk", "name"
        )
    )
    rows = [
        LiabilityRow(
            funder_merchant_id=key,
            funder_name=names.get(key, "") if key is not None else "",
            points=points[key],
            amount=amounts[key],
        )
        for key in sorted(points, key=lambda k: (k is not None, names.get(k, "") if k else ""))
        if points[key] or amounts[key]
    ]
    return Liability(
        point_value=value,
        points=total_points,
        amount=sum((r.amount for r in rows), ZERO),
        rows=rows,
    )


def list_merchant_lines(*, merchant: Merchant) -> QuerySet[ClearingLine]:
    """This merchant's clearing lines, newest first."""
    return ClearingLine.objects.filter(merchant=merchant).order_by("-occurred_at", "-id")


def entry_lines(*, entry_id: uuid.UUID) -> QuerySet[ClearingLine]:
    return ClearingLine.objects.filter(entry_id=entry_id)


@dataclass(frozen=True)
class ClearingSettings:
    point_value: Decimal
    funding_source: str
    merchant_share: Decimal
    effective_from: dt.datetime | None


def clearing_settings() -> ClearingSettings:
    """The clearing value and the funding policy in force (merchant-funded until one is set)."""
    policy = current_policy()
    return ClearingSettings(
        point_value=program_settings().point_value,
        funding_source=policy.source if policy else FundingSource.MERCHANT,
        merchant_share=policy.merchant_share if policy else Decimal("1.0000"),
        effective_from=policy.effective_from if policy else None,
    )
