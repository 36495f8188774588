"""Money: one rounding rule, and splits that never create or lose a cent."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atrium.money import allocate, to_cny

amounts = st.decimals(min_value=Decimal("-1000000"), max_value=Decimal("1000000"), places=2)
weights = st.lists(
    st.decimals(min_value=Decimal(0), max_value=Decimal(1000), places=4), min_size=1, max_size=12
).filter(lambda ws: sum(ws) > 0)


@given(amount=amounts, parts=weights)
def test_parts_sum_exactly_and_stay_within_a_cent_of_the_exact_share(amount, parts):
    split = allocate(amount, parts)
    assert sum(split) == amount
    total = sum(parts)
    for part, weight in zip(split, parts, strict=True):
        assert part == part.quantize(Decimal("0.01"))
        assert abs(part - amount * weight / total) < Decimal("0.01")


@given(amount=amounts.filter(lambda a: a > 0), parts=weights)
def test_a_refund_splits_into_the_exact_negatives(amount, parts):
    assert allocate(-amount, parts) == [-part for part in allocate(amount, parts)]


def test_largest_remainder_with_ties_to_the_first():
    assert allocate(Decimal("100.00"), [1, 1, 1]) == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]
    assert allocate(Decimal("0.05"), [Decimal("0.5"), Decimal("0.3"), Decimal("0.2")]) == [
        Decimal("0.03"),
        Decimal("0.01"),
        Decimal("0.01"),
    ]


@pytest.mark.parametrize("bad", [[], [0, 0], [1, -1]])
def test_bad_weights_are_refused(bad):
    with pytest.raises(ValueError, match="weights"):
        allocate(Decimal("1.00"), bad)


def test_floats_are_refused_and_rounding_is_half_up():
    with pytest.raises(TypeError):
        allocate(1.5, [1])
    with pytest.raises(TypeError):
        to_cny(0.1)
    assert (to_cny("2.345"), to_cny("2.344"), to_cny(Decimal("-2.345"))) == (
        Decimal("2.35"),
        Decimal("2.34"),
        Decimal("-2.35"),
    )
