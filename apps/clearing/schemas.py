"""Wire shapes of the clearing APIs (money as decimal strings, points as integers)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from ninja import Schema
from pydantic import Field

from apps.clearing.choices import FundingSource


class ClearingSettingsOut(Schema):
    point_value: Decimal
    funding_source: str
    merchant_share: Decimal
    effective_from: dt.datetime | None


class ClearingSettingsIn(Schema):
    point_value: Decimal | None = Field(default=None, gt=0, le=Decimal("9999.9999"))
    funding_source: FundingSource
    merchant_share: Decimal | None = Field(default=None, ge=0, le=1)


class LiabilityRowOut(Schema):
    funder_merchant_id: uuid.UUID | None
    funder_name: str
    points: int
    amount: Decimal


class LiabilityOut(Schema):
    point_value: Decimal
    points: int
    amount: Decimal
    rows: list[LiabilityRowOut]


class PositionOut(Schema):
    merchant_id: uuid.UUID
    merchant_name: str
    points_issued: int
    points_accepted: int
    points_funded: int
    points_expired: int
    accepted_amount: Decimal
    funded_amount: Decimal
    net_amount: Decimal


class ClearingLineOut(Schema):
    id: uuid.UUID
    entry_id: uuid.UUID
    lot_id: uuid.UUID
    sale_id: uuid.UUID | None
    refund_id: str
    role: str
    points: int
    amount: Decimal
    merchant_share: Decimal | None
    settle_on: dt.date | None
    occurred_at: dt.datetime


class DateRange(Schema):
    start: dt.date
    end: dt.date
