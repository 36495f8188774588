"""Schemas of split rules, split lines and the split preview (money as decimal strings)."""

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated

from ninja import Field, Schema

from apps.sales.choices import PaymentMethod
from apps.sales.schemas import ItemIn, Money, PaymentIn
from apps.settlement.choices import RuleKind

Rate = Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4, examples=["0.1800"])]


class SplitRuleIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    kind: RuleKind
    rate: Rate
    priority: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    enabled: bool = True
    business_format: str = Field(default="", max_length=32)
    merchant_id: uuid.UUID | None = None
    category: str = Field(default="", max_length=64)
    payment_method: PaymentMethod | None = None
    campaign: str = Field(default="", max_length=64)
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None


class SplitRulePatchIn(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    rate: Rate | None = None
    priority: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)
    enabled: bool | None = None
    business_format: str | None = Field(default=None, max_length=32)
    merchant_id: uuid.UUID | None = None
    category: str | None = Field(default=None, max_length=64)
    payment_method: PaymentMethod | None = None
    campaign: str | None = Field(default=None, max_length=64)
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None


class SplitRuleOut(Schema):
    id: uuid.UUID
    rule_key: uuid.UUID
    version: int
    name: str
    kind: str
    rate: Decimal
    priority: int
    enabled: bool
    business_format: str
    merchant_id: uuid.UUID | None
    category: str
    payment_method: str
    campaign: str
    effective_from: dt.date
    effective_to: dt.date | None
    status: str
    created_at: dt.datetime
    published_at: dt.datetime | None


class SplitLineOut(Schema):
    id: uuid.UUID
    sale_id: uuid.UUID
    external_id: str = Field(alias="sale.external_id")
    refund_id: uuid.UUID | None
    party: str
    kind: str
    amount: Decimal
    settle_on: dt.date
    occurred_at: dt.datetime
    why: str


class SplitPreviewIn(Schema):
    merchant_id: uuid.UUID
    total: Money
    payments: list[PaymentIn] = Field(min_length=1, max_length=20)
    items: list[ItemIn] = Field(default_factory=list, max_length=200)
    campaign: str = Field(default="", max_length=64)
    day: dt.date | None = None


class PlannedLineOut(Schema):
    party: str
    kind: str
    amount: Decimal
    rule_id: uuid.UUID | None
    why: str


class SplitPreviewOut(Schema):
    total: Decimal
    day: dt.date
    lines: list[PlannedLineOut]
