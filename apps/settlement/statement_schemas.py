"""Wire shapes of settlement statements (money as decimal strings)."""

import datetime as dt
import uuid
from decimal import Decimal

from ninja import Field, Schema


class StatementOut(Schema):
    id: uuid.UUID
    number: str
    merchant_id: uuid.UUID
    merchant_name: str = Field(alias="merchant.name")
    contract_kind: str
    cycle: str
    period_start: dt.date
    period_end: dt.date
    status: str
    payout_route: str
    gross_sales: Decimal
    refunds: Decimal
    commission: Decimal
    channel_fees: Decimal
    platform_fees: Decimal
    subsidies: Decimal
    merchant_due: Decimal
    points_clearing: Decimal
    rent: Decimal
    minimum_topup: Decimal
    net_payable: Decimal
    line_count: int
    issued_at: dt.datetime | None
    confirmed_at: dt.datetime | None
    confirmed_by: str
    disputed_at: dt.datetime | None
    dispute_reason: str
    resolved_at: dt.datetime | None
    resolution: str
    paid_at: dt.datetime | None
    payout_reference: str


class StatementLineOut(Schema):
    position: int
    section: str
    party: str
    kind: str
    amount: Decimal
    points: int
    count: int
    in_net: bool


class StatementDetailOut(StatementOut):
    lines: list[StatementLineOut]

    @staticmethod
    def resolve_lines(obj: object) -> list[object]:
        return list(obj.lines.order_by("position"))  # type: ignore[attr-defined]


class CloseIn(Schema):
    """Close every period that ended before `today` (default: the mall's today)."""

    today: dt.date | None = None


class CloseOut(Schema):
    closed: list[StatementOut]


class IssueIn(Schema):
    statement_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)


class DisputeIn(Schema):
    reason: str = Field(min_length=1, max_length=500)


class ResolveIn(Schema):
    resolution: str = Field(min_length=1, max_length=500)


class PayoutIn(Schema):
    reference: str = Field(min_length=1, max_length=100)


class BankFileIn(Schema):
    statement_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)


class StatusCountOut(Schema):
    status: str
    count: int
    net: Decimal
