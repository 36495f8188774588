"""Money is Decimal CNY with two places; `to_cny` is the one rounding rule (ROUND_HALF_UP)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def to_cny(value: Decimal | int | str) -> Decimal:
    """Round to the cent, half up. Raises TypeError for floats: money is never a float."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
