"""The mall's program settings seeded at onboarding: tiers and the base earning rule."""

from __future__ import annotations

from django.db import models


class Tier(models.Model):
    """A membership level (普卡/银卡/金卡/钻石卡), reached at a growth-value threshold."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=50)
    rank = models.PositiveSmallIntegerField(unique=True)
    growth_threshold = models.BigIntegerField(default=0)
    points_multiplier = models.DecimalField(max_digits=4, decimal_places=2, default=1)
    free_parking_hours = models.PositiveSmallIntegerField(default=0)
    perks = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ("rank",)

    def __str__(self) -> str:
        return self.name


class EarningRule(models.Model):
    """Points per yuan of cash paid, effective from a date (versioned by the loyalty issue)."""

    name = models.CharField(max_length=100)
    points_per_yuan = models.DecimalField(max_digits=8, decimal_places=4)
    effective_from = models.DateField()
    is_base = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-effective_from", "-id")

    def __str__(self) -> str:
        return f"{self.name} ({self.points_per_yuan}/¥ from {self.effective_from})"
