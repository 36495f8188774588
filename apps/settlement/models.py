"""Settlement: the money lines of every sale and the periods they are settled in."""

from __future__ import annotations

from django.db import models

from apps.merchants.models import Merchant


class SettlementCursor(models.Model):
    """Per merchant, the last local date whose settlement period is closed.

    Every money line (split, clearing) carries a `settle_on` date, given at write time by
    `selectors.settle_on`: the line's own local date, or the day after `closed_through` when that
    date is already closed. A late line thus rolls into the next open period, never into a closed
    one, and closing a period is one aggregate over `settle_on`.
    """

    merchant = models.OneToOneField(
        Merchant, primary_key=True, on_delete=models.CASCADE, related_name="settlement_cursor"
    )
    closed_through = models.DateField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "settlement cursor"

    def __str__(self) -> str:
        return f"{self.merchant_id} closed through {self.closed_through}"
