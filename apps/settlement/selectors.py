"""Reads of the settlement app."""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from apps.settlement.models import SettlementCursor


def settle_on(*, merchant_id: uuid.UUID, moment: dt.datetime) -> dt.date:
    """The date a money line of this merchant is settled on: its local date, or the first day
    after the merchant's closed periods when that date is closed (a late line rolls forward).

    Call after `locks.lines_lock` in the transaction that writes the line.
    """
    day = timezone.localdate(moment)
    closed = (
        SettlementCursor.objects.filter(merchant_id=merchant_id)
        .values_list("closed_through", flat=True)
        .first()
    )
    if closed is not None and day <= closed:
        return closed + dt.timedelta(days=1)
    return day
