"""Growth and tiers: upgrade at once, retention and downgrade on evaluation, every change kept."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.loyalty.errors import TierInvalidError
from apps.loyalty.models import GrowthEntry, PointsAccount, TierChange
from apps.loyalty.services import growth
from apps.loyalty.services.program import save_tier, update_program_settings


def _tier(member):
    return PointsAccount.objects.select_related("tier").get(member=member).tier.code


def test_upgrade_happens_the_moment_the_threshold_is_reached(member):
    growth.add_growth(member=member, delta=1999, reason="sale", idempotency_key="g1")
    assert _tier(member) == "regular"
    growth.add_growth(member=member, delta=1, reason="sale", idempotency_key="g2")
    assert _tier(member) == "silver"
    growth.add_growth(member=member, delta=60000, reason="sale", idempotency_key="g3")
    assert _tier(member) == "diamond"
    changes = list(
        TierChange.objects.filter(member=member)
        .order_by("created_at", "id")
        .values_list("to_tier__code", "reason")
    )
    assert changes == [("regular", "joined"), ("silver", "upgrade"), ("diamond", "upgrade")]


def test_growth_never_goes_below_zero(member):
    growth.add_growth(member=member, delta=100, reason="sale", idempotency_key="a")
    entry = growth.add_growth(member=member, delta=-500, reason="refund", idempotency_key="b")
    assert (entry.delta, PointsAccount.objects.get(member=member).growth) == (-100, 0)


def test_evaluation_keeps_a_tier_while_retention_is_met_and_downgrades_otherwise(member):
    growth.add_growth(member=member, delta=12000, reason="sale", idempotency_key="old")
    assert _tier(member) == "gold"
    # The growth was earned 13 months ago: outside the rolling window.
    GrowthEntry.objects.filter(member=member).update(
        created_at=timezone.now() - dt.timedelta(days=400)
    )
    growth.add_growth(member=member, delta=8500, reason="sale", idempotency_key="recent")
    assert growth.evaluate_tier(member=member).code == "gold"  # 8,500 >= retention 8,000
    GrowthEntry.objects.filter(idempotency_key="recent").update(delta=3000)
    assert growth.evaluate_tier(member=member).code == "silver"
    assert TierChange.objects.filter(member=member, reason="downgrade").get().growth == 3000


def test_calendar_year_window(member):
    update_program_settings(tier_evaluation="calendar_year")
    growth.add_growth(member=member, delta=2500, reason="sale", idempotency_key="x")
    # The last hour of last year in the mall's time zone (a UTC date can be a local day later).
    new_year = timezone.localtime().replace(month=1, day=1, hour=0, minute=0, second=0)
    last_year = new_year - dt.timedelta(hours=1)
    GrowthEntry.objects.filter(member=member).update(created_at=last_year)
    assert growth.evaluate_tier(member=member).code == "regular"


def test_tier_thresholds_must_rise_with_rank(in_mall_a):
    with pytest.raises(TierInvalidError):
        save_tier(code="platinum", rank=5, name="铂金卡", growth_threshold=100)
    tier = save_tier(
        code="platinum", rank=5, name="铂金卡", growth_threshold=100000, retention_growth=80000
    )
    assert (tier.name, tier.rank) == ("铂金卡", 5)
    with pytest.raises(TierInvalidError):
        save_tier(code="bad", rank=6, name="x", growth_threshold=200000, retention_growth=300000)
