"""Money is Decimal CNY with two places; `to_cny` is the one rounding rule (ROUND_HALF_UP) and
`allocate` the one way to split an amount (largest remainder to the cent)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def to_cny(value: Decimal | int | str) -> Decimal:
    """Round to the cent, half up. Raises TypeError for floats: money is never a float."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def allocate(amount: Decimal, weights: Sequence[Decimal | int]) -> list[Decimal]:
    """Split an amount into parts proportional to weights, to the cent, by largest remainder.

    The parts always sum exactly to `amount` (negative amounts split like positive ones, so a
    refund's parts are the exact negatives of the same split of its absolute value). Ties in the
    remainders go to the earlier weight. Raises ValueError for no weights, a negative weight or
    weights that sum to zero; TypeError for floats.
    """
    if isinstance(amount, float) or any(isinstance(w, float) for w in weights):
        raise TypeError("money and weights must not be floats")
    if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
        raise ValueError("weights must be non-negative and not all zero")
    cents = int(to_cny(abs(amount)) / CENT)
    total_weight = sum(Decimal(w) for w in weights)
    exact = [Decimal(cents) * Decimal(w) / total_weight for w in weights]
    parts = [int(share) for share in exact]  # floor, shares are non-negative
    left = cents - sum(parts)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for index in by_remainder[:left]:
        parts[index] += 1
    sign = -1 if amount < 0 else 1
    return [Decimal(sign * part) * CENT for part in parts]
