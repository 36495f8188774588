"""Writes of the clearing app: the funding policy, and the lines of points taken as payment.

`clear_points_payment` is called by `sales.record_sale` inside the sale's transaction: it redeems
the points through the loyalty ledger (oldest expiry first) and writes, for every lot consumed,
an `acceptor` line for the merchant that took the points and `funder` lines for whoever funded
the lot. `clear_points_refund` (from `sales.refund_sale`) returns the refunded share of the
points and writes the exact proportional negatives. Both take `settlement.locks.lines_lock` for
every merchant they write a line for, and date merchant lines with `settlement.selectors.settle_on`.

Rounding: the payment's amount (points × clearing value, whole cents by construction) is split
over the lots by largest remainder (`atrium.money.allocate`), then each lot's amount between its
issuing merchant and the mall by the policy share, the same way; so an entry's lines sum to
exactly zero. A refund reverses each funder line by the cumulative share of the lot's points
returned (half up to the cent, the last return taking exactly what is left) and the acceptor by
the sum of those, so after a full refund every line is exactly cancelled.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from apps.clearing import selectors
from apps.clearing.choices import ClearingRole, FundingSource
from apps.clearing.errors import MemberRequiredError, PointsNotWholeError, PolicyInvalidError
from apps.clearing.models import ClearingLine, FundingPolicy
from apps.loyalty.selectors import entry_consumption, program_settings
from apps.loyalty.services.earning import proportional_share
from apps.loyalty.services.ledger import redeem_points, return_points
from apps.loyalty.services.program import update_program_settings
from apps.members.models import Member
from apps.merchants.models import Merchant
from apps.settlement.locks import lines_lock
from apps.settlement.selectors import settle_on
from atrium.money import allocate, to_cny

ONE = Decimal(1)


@dataclass(frozen=True)
class PointsPayment:
    points: int
    amount: Decimal
    entry_id: uuid.UUID | None


def _split_points(points: int, share: Decimal) -> tuple[int, int]:
    """(merchant, mall) points of a lot, by largest remainder (ties to the merchant)."""
    merchant_cents, mall_cents = allocate(Decimal(points) / 100, [share, ONE - share])
    return int(merchant_cents * 100), int(mall_cents * 100)


def _dated(lines: list[ClearingLine]) -> list[ClearingLine]:
    """Lock the merchants of the lines, then date each merchant line (settle_on)."""
    if not lines:
        return lines
    merchant_ids = {line.merchant_id for line in lines if line.merchant_id is not None}
    lines_lock(merchant_ids=merchant_ids)
    days = {
        merchant_id: settle_on(merchant_id=merchant_id, moment=lines[0].occurred_at)
        for merchant_id in merchant_ids
    }
    for line in lines:
        if line.merchant_id is not None:
            line.settle_on = days[line.merchant_id]
    return lines


@transaction.atomic
def set_funding_policy(
    *,
    source: str,
    merchant_share: Decimal | None = None,
    actor: str = "",
    now: dt.datetime | None = None,
) -> FundingPolicy:
    """A new funding policy for merchant-issued points, in force from now (lots earned before
    keep theirs). `merchant_share` only for `shared` (strictly between 0 and 1).
    Raises PolicyInvalidError."""
    if source == FundingSource.MERCHANT:
        share = ONE
    elif source == FundingSource.MALL:
        share = Decimal(0)
    elif source == FundingSource.SHARED:
        if merchant_share is None or not Decimal(0) < merchant_share < ONE:
            raise PolicyInvalidError(
                "a shared policy needs a merchant share between 0 and 1",
                merchant_share=None if merchant_share is None else str(merchant_share),
            )
        if merchant_share != merchant_share.quantize(Decimal("0.0001")):
            raise PolicyInvalidError(
                "at most four decimal places", merchant_share=str(merchant_share)
            )
        share = merchant_share
    else:
        raise PolicyInvalidError("unknown funding source", allowed=list(FundingSource.values))
    return FundingPolicy.objects.create(
        source=source, merchant_share=share, effective_from=now or timezone.now(), created_by=actor
    )


@transaction.atomic
def update_clearing_settings(
    *,
    source: str,
    merchant_share: Decimal | None = None,
    point_value: Decimal | None = None,
    actor: str = "",
) -> FundingPolicy:
    """Change the clearing value of a point (the program's point value) and set a new funding
    policy. Raises PolicyInvalidError."""
    if point_value is not None:
        if point_value <= 0 or point_value != point_value.quantize(Decimal("0.0001")):
            raise PolicyInvalidError(
                "the point value is positive with at most four decimal places",
                point_value=str(point_value),
            )
        update_program_settings(point_value=point_value)
    return set_funding_policy(source=source, merchant_share=merchant_share, actor=actor)


def points_for_amount(amount: Decimal) -> int:
    """The points a payment of `amount` yuan takes at the clearing value.
    Raises PointsNotWholeError when that is not a whole number."""
    value = program_settings().point_value
    exact = amount / value
    if exact != exact.to_integral_value():
        raise PointsNotWholeError(
            "the points payment is not a whole number of points at the clearing value",
            amount=str(amount),
            point_value=str(value),
        )
    return int(exact)


def clear_points_payment(
    *,
    member: Member | None,
    merchant: Merchant,
    amount: Decimal,
    sale_id: uuid.UUID,
    idempotency_key: str,
    occurred_at: dt.datetime,
    now: dt.datetime | None = None,
) -> PointsPayment:
    """Redeem the points of a sale's points payment and write its clearing lines (call inside
    the sale's transaction). Nothing happens for a zero amount.
    Raises MemberRequiredError, PointsNotWholeError, and the loyalty ledger's
    InsufficientPointsError, InvalidPointsError, LedgerKeyConflictError."""
    if amount == 0:
        return PointsPayment(points=0, amount=Decimal("0.00"), entry_id=None)
    if member is None:
        raise MemberRequiredError("a points payment needs a member")
    points = points_for_amount(amount)
    with transaction.atomic():
        entry = redeem_points(
            member=member,
            points=points,
            idempotency_key=idempotency_key,
            reason="points payment",
            merchant_id=merchant.pk,
            source_type="sale",
            source_id=str(sale_id),
            now=now,
        )
        if ClearingLine.objects.filter(entry_id=entry.pk).exists():
            return PointsPayment(points=points, amount=amount, entry_id=entry.pk)  # a retry
        taken = entry_consumption(entry_id=entry.pk)
        parts = allocate(amount, [t.points for t in taken])
        lines: list[ClearingLine] = []
        for t, part in zip(taken, parts, strict=True):
            common = {
                "entry_id": entry.pk, "lot_id": t.lot.pk, "occurred_at": occurred_at,
                "sale_id": sale_id,
            }  # fmt: skip
            share = (
                selectors.policy_share(earned_at=t.lot.earned_at)
                if t.lot.issuer_merchant_id is not None
                else Decimal(0)
            )
            lines.append(
                ClearingLine(
                    merchant_id=merchant.pk,
                    role=ClearingRole.ACCEPTOR,
                    points=t.points,
                    amount=part,
                    merchant_share=share,
                    **common,
                )
            )
            merchant_part, mall_part = allocate(part, [share, ONE - share])
            merchant_points, mall_points = _split_points(t.points, share)
            if share > 0:
                lines.append(
                    ClearingLine(
                        merchant_id=t.lot.issuer_merchant_id,
                        role=ClearingRole.FUNDER,
                        points=-merchant_points,
                        amount=-merchant_part,
                        merchant_share=share,
                        **common,
                    )
                )
            if share < ONE:
                lines.append(
                    ClearingLine(
                        merchant_id=None,
                        role=ClearingRole.FUNDER,
                        points=-mall_points,
                        amount=-mall_part,
                        merchant_share=share,
                        **common,
                    )
                )
        ClearingLine.objects.bulk_create(_dated(lines))
    return PointsPayment(points=points, amount=amount, entry_id=entry.pk)


def _cumulative(amount: Decimal, done: int, of: int) -> Decimal:
    """The part of a line reversed once `done` of its lot's `of` points are back."""
    return amount if done == of else to_cny(amount * done / of)


def _cumulative_points(points: int, done: int, of: int) -> int:
    sign = -1 if points < 0 else 1
    return sign * math.floor(abs(points) * done / of)


def clear_points_refund(
    *,
    member: Member | None,
    sale_id: uuid.UUID,
    sale_total: Decimal,
    refunded_before: Decimal,
    refunding: Decimal,
    refund_id: str,
    idempotency_key: str,
    occurred_at: dt.datetime,
) -> int:
    """Return the refunded share of a sale's points payment (all refunds together return
    floor(points × refunded / total)) and reverse its clearing lines in proportion, lot by lot
    (the last lots consumed come back first). Returns the points given back (0 when the sale
    had no points payment). Call inside the refund's transaction."""
    original = list(
        ClearingLine.objects.filter(sale_id=sale_id, refund_id="").order_by("occurred_at", "id")
    )
    if not original or member is None:
        return 0
    acceptors = [line for line in original if line.role == ClearingRole.ACCEPTOR]
    redeemed = sum(line.points for line in acceptors)
    back = proportional_share(redeemed, refunded_before, refunding, sale_total)
    if back == 0:
        return 0
    returned = selectors.points_returned_by_lot(sale_id=sale_id)
    taken = {t.lot.pk: t for t in entry_consumption(entry_id=acceptors[0].entry_id)}
    by_lot = {line.lot_id: line for line in acceptors}
    plan: list[tuple[uuid.UUID, int]] = []
    left = back
    for lot_id in reversed(list(taken)):  # last consumed, first returned
        if left == 0:
            break
        open_points = by_lot[lot_id].points - returned.get(lot_id, 0)
        if open_points > 0:
            plan.append((lot_id, min(open_points, left)))
            left -= plan[-1][1]
    with transaction.atomic():
        entry, _ = return_points(
            member=member,
            returns=plan,
            idempotency_key=idempotency_key,
            source_type="sale",
            source_id=str(sale_id),
            reason=f"refund {refund_id}",
        )
        if ClearingLine.objects.filter(entry_id=entry.pk).exists():
            return back  # a retry
        funders: dict[uuid.UUID, list[ClearingLine]] = defaultdict(list)
        for line in original:
            if line.role == ClearingRole.FUNDER:
                funders[line.lot_id].append(line)
        lines: list[ClearingLine] = []
        for lot_id, points in plan:
            consumed = by_lot[lot_id].points
            before, after = returned.get(lot_id, 0), returned.get(lot_id, 0) + points
            common = {
                "entry_id": entry.pk, "lot_id": lot_id, "occurred_at": occurred_at,
                "sale_id": sale_id, "refund_id": refund_id,
            }  # fmt: skip
            reversed_total = Decimal("0.00")
            for funder in funders[lot_id]:
                amount = -(
                    _cumulative(funder.amount, after, consumed)
                    - _cumulative(funder.amount, before, consumed)
                )
                reversed_total += amount
                lines.append(
                    ClearingLine(
                        merchant_id=funder.merchant_id,
                        role=ClearingRole.FUNDER,
                        points=-(
                            _cumulative_points(funder.points, after, consumed)
                            - _cumulative_points(funder.points, before, consumed)
                        ),
                        amount=amount,
                        merchant_share=funder.merchant_share,
                        **common,
                    )
                )
            acceptor = by_lot[lot_id]
            lines.append(
                ClearingLine(
                    merchant_id=acceptor.merchant_id,
                    role=ClearingRole.ACCEPTOR,
                    points=-points,
                    amount=-reversed_total,
                    merchant_share=acceptor.merchant_share,
                    **common,
                )
            )
        ClearingLine.objects.bulk_create(_dated(lines))
    return back
