"""Wire shapes of the sales endpoints. Money is a decimal string in yuan (`"128.50"`) both ways:
a JSON number where money is expected is refused (`request.invalid`), and the amount itself is
checked by the service (`sales.invalid_amount`, `sales.total_mismatch`)."""

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import BaseModel, WithJsonSchema

from apps.loyalty.choices import RuleKind
from apps.sales.choices import PaymentMethod
from atrium.schemas import ErrorOut

Money = Annotated[
    str,
    Field(
        min_length=1,
        max_length=24,
        description="yuan as a decimal string with at most two places",
        examples=["128.50"],
    ),
]
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"
ExternalId = Annotated[
    str,
    Field(
        pattern=EXTERNAL_ID_PATTERN,
        description="the till's own id: 1-64 letters, digits or ._:-",
        examples=["T20261111-0001"],
    ),
]


class MemberRefIn(BaseModel):
    """Exactly one: a scanned member code (or card number), a phone, or a member number.

    A plain pydantic model: ninja's `Schema` reads attributes of anything, so with every field
    optional a bare string would pass as "no member named".
    """

    code: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=32)
    member_no: str | None = Field(default=None, max_length=20)


# The sale bodies are plain pydantic models: ninja's `Schema` wraps every value in a getter
# that reads attributes of anything, several times slower on the batch endpoint's 500 sales.
class PaymentIn(BaseModel):
    method: PaymentMethod
    amount: Money
    trade_no: str = Field(default="", max_length=64, description="the payment channel's trade no.")


class ItemIn(BaseModel):
    sku: str = Field(default="", max_length=64)
    name: str = Field(default="", max_length=200)
    category: str = Field(default="", max_length=64)
    quantity: Decimal = Field(default=Decimal(1), gt=0, max_digits=12, decimal_places=3)
    amount: Money


class SaleIn(BaseModel):
    external_id: ExternalId
    occurred_at: dt.datetime = Field(
        description="ISO 8601; without an offset it is read in the mall's time zone"
    )
    member: MemberRefIn | None = None
    total: Money
    payments: list[PaymentIn] = Field(min_length=1, max_length=20)
    items: list[ItemIn] = Field(default_factory=list, max_length=200)


class PortalSaleIn(Schema):
    """The cashier screen: scan the member code, enter the amount and how it was paid."""

    external_id: ExternalId | None = Field(
        default=None, description="the screen's checkout id; give one so that a retry is safe"
    )
    occurred_at: dt.datetime | None = None
    member: MemberRefIn | None = None
    total: Money
    payments: list[PaymentIn] = Field(min_length=1, max_length=20)
    items: list[ItemIn] = Field(default_factory=list, max_length=200)


# Answers of the sale endpoints are plain pydantic models too (a batch answers 500 of them).
class SaleResultOut(BaseModel):
    sale_id: uuid.UUID
    external_id: str
    member_id: uuid.UUID | None
    points_earned: int
    points_balance: int | None
    growth_earned: int
    tier: str | None


# Each sale of a batch is checked on its own (a malformed one is reported, not fatal), so the
# list takes anything here and `SaleIn` is applied per sale by the handler.
BatchSale = Annotated[
    Any, WithJsonSchema({"type": "object", "description": "a sale shaped like SaleIn"})
]


class BatchIn(Schema):
    sales: list[BatchSale] = Field(
        min_length=1,
        max_length=500,
        description="up to 500 sales, each shaped like the body of POST /sales and checked on "
        "its own: a bad one is reported and does not stop the others",
    )


class BatchItemOut(BaseModel):
    index: int
    external_id: str | None
    status: Literal["created", "replayed", "failed"]
    result: SaleResultOut | None = None
    error: ErrorOut | None = None


class BatchOut(BaseModel):
    created: int
    replayed: int
    failed: int
    results: list[BatchItemOut]


class RefundIn(Schema):
    refund_id: ExternalId
    amount: Money


class RefundOut(Schema):
    refund_id: str
    sale_id: uuid.UUID
    external_id: str
    amount: Decimal
    refunded_total: Decimal
    points_reversed: int
    growth_reversed: int
    points_balance: int | None
    status: str


class SaleItemOut(Schema):
    sku: str
    name: str
    category: str
    quantity: Decimal
    amount: Decimal


class SalePaymentOut(Schema):
    method: str
    amount: Decimal
    trade_no: str


class SaleRefundOut(Schema):
    refund_id: str
    amount: Decimal
    points_requested: int
    points_reversed: int
    growth_reversed: int
    created_at: dt.datetime


class SaleOut(Schema):
    id: uuid.UUID
    external_id: str
    merchant_id: uuid.UUID
    member_id: uuid.UUID | None
    channel: str
    occurred_at: dt.datetime
    total: Decimal
    eligible_amount: Decimal
    points_earned: int
    growth_earned: int
    refunded_total: Decimal
    points_reversed: int
    growth_reversed: int
    status: str
    created_at: dt.datetime


class SaleDetailOut(SaleOut):
    items: list[SaleItemOut]
    payments: list[SalePaymentOut]
    refunds: list[SaleRefundOut]


class PreviewIn(Schema):
    merchant_id: uuid.UUID
    occurred_at: dt.datetime | None = None
    total: Money
    payments: list[PaymentIn] = Field(min_length=1, max_length=20)
    items: list[ItemIn] = Field(default_factory=list, max_length=200)
    member_id: uuid.UUID | None = Field(default=None, description="quote at this member's tier")
    tier: str | None = Field(default=None, max_length=32, description="or at this tier's code")
    rule_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=50, description="draft rules to include"
    )
    retired_rule_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=50, description="rules in force to leave out"
    )


class ExplanationOut(Schema):
    rule_id: uuid.UUID | None
    rule: str
    effect: str


class QuoteOut(Schema):
    points: int
    growth: int
    eligible_amount: Decimal
    base_points: Decimal
    multiplier: Decimal
    explanations: list[ExplanationOut]


class ProposedRuleIn(Schema):
    """A rule as the editor would save it, not yet saved."""

    name: str = Field(default="proposed", min_length=1, max_length=100)
    kind: RuleKind = RuleKind.RATE
    points_per_yuan: Decimal = Field(default=Decimal(0), ge=0, max_digits=8, decimal_places=4)
    multiplier: Decimal = Field(default=Decimal(1), gt=0, max_digits=6, decimal_places=2)
    per_sale_cap: int | None = Field(default=None, ge=0)
    per_day_cap: int | None = Field(default=None, ge=0)
    merchant_id: uuid.UUID | None = None
    business_format: str = Field(default="", max_length=32)
    category: str = Field(default="", max_length=64)
    weekdays: list[int] = Field(default_factory=list, max_length=7)
    dates: list[dt.date] = Field(default_factory=list, max_length=366)


class BacktestIn(Schema):
    rule: ProposedRuleIn | None = None
    rule_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=50, description="saved draft rules to put in force"
    )
    retired_rule_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=50, description="rules in force to take out"
    )
    days: int = Field(default=30, ge=1, le=90)


class BacktestOut(Schema):
    days: int
    since: dt.datetime
    until: dt.datetime
    sales: int
    points_before: int
    points_after: int
    points_delta: int
    cost_before: Decimal
    cost_after: Decimal
    cost_delta: Decimal
    truncated: bool


class ReceiptOut(Schema):
    id: uuid.UUID
    merchant_id: uuid.UUID
    merchant_name: str
    receipt_no: str
    amount: Decimal
    occurred_on: dt.date
    status: str
    reason: str
    sale_id: uuid.UUID | None
    created_at: dt.datetime
    reviewed_at: dt.datetime | None

    @staticmethod
    def resolve_merchant_name(obj: Any) -> str:
        return str(obj.merchant.name)


class ReceiptReviewOut(ReceiptOut):
    member_id: uuid.UUID
    reviewed_by: str


class ReceiptApproveIn(Schema):
    amount: Money | None = Field(default=None, description="the amount read off the photo")
    payment_method: PaymentMethod = PaymentMethod.CASH


class ReceiptRejectIn(Schema):
    reason: str = Field(min_length=1, max_length=200)
