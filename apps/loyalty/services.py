"""Write use cases for the program settings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from apps.loyalty.models import EarningRule, Tier

DEFAULT_TIERS: tuple[tuple[str, str, int, int, Decimal, int, list[str]], ...] = (
    # code, name, rank, growth threshold, points multiplier, free parking hours, perks
    ("regular", "普卡", 1, 0, Decimal("1.00"), 0, []),
    ("silver", "银卡", 2, 2_000, Decimal("1.20"), 1, ["生日礼"]),
    ("gold", "金卡", 3, 10_000, Decimal("1.50"), 2, ["生日礼", "贵宾休息室"]),
    ("diamond", "钻石卡", 4, 50_000, Decimal("2.00"), 4, ["生日礼", "贵宾休息室", "优先服务"]),
)


@transaction.atomic
def seed_default_program(*, today: dt.date) -> None:
    """Give a new mall its default tiers and 1 point per ¥1 base earning (idempotent)."""
    for code, name, rank, threshold, multiplier, parking, perks in DEFAULT_TIERS:
        Tier.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "rank": rank,
                "growth_threshold": threshold,
                "points_multiplier": multiplier,
                "free_parking_hours": parking,
                "perks": perks,
            },
        )
    if not EarningRule.objects.filter(is_base=True).exists():
        EarningRule.objects.create(
            name="基础积分", points_per_yuan=Decimal(1), effective_from=today, is_base=True
        )
