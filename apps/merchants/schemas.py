import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated

from ninja import Field, Schema

from apps.merchants.choices import ContractKind, MerchantStatus, PayoutMethod, SettlementCycle


class MerchantCreateIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    business_format: str = Field(default="retail", max_length=32)
    brand: str = Field(default="", max_length=100)
    floor: str = Field(default="", max_length=16)
    unit: str = Field(default="", max_length=32)
    contact_name: str = Field(default="", max_length=64)
    contact_phone: str = Field(default="", max_length=20)
    status: MerchantStatus = MerchantStatus.ACTIVE


class MerchantPatchIn(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    business_format: str | None = Field(default=None, max_length=32)
    brand: str | None = Field(default=None, max_length=100)
    floor: str | None = Field(default=None, max_length=16)
    unit: str | None = Field(default=None, max_length=32)
    contact_name: str | None = Field(default=None, max_length=64)
    contact_phone: str | None = Field(default=None, max_length=20)
    status: MerchantStatus | None = None


class MerchantOut(Schema):
    id: uuid.UUID
    name: str
    business_format: str
    brand: str = ""
    floor: str = ""
    unit: str
    status: str = MerchantStatus.ACTIVE
    is_active: bool
    has_logo: bool = False
    created_at: dt.datetime

    @staticmethod
    def resolve_has_logo(obj: object) -> bool:
        return bool(getattr(obj, "logo_path", ""))


class MerchantDetailOut(MerchantOut):
    contact_name: str
    contact_phone: str = Field(description="masked unless the staff may see personal data")
    personal_data_visible: bool


class BusinessFormatIn(Schema):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1, max_length=64)
    position: int = Field(default=0, ge=0, le=10_000)


class BusinessFormatPatchIn(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    position: int | None = Field(default=None, ge=0, le=10_000)
    is_active: bool | None = None


class BusinessFormatOut(Schema):
    code: str
    name: str
    position: int
    is_active: bool


Rate = Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4, examples=["0.1800"])]
Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2, examples=["20000.00"])]


class ContractIn(Schema):
    kind: ContractKind
    commission_rate: Rate = Decimal(0)
    category_rates: dict[str, Rate] = Field(default_factory=dict, max_length=100)
    rent_amount: Amount = Decimal(0)
    minimum_amount: Amount = Decimal(0)
    cycle: SettlementCycle = SettlementCycle.MONTHLY
    payout_method: PayoutMethod = PayoutMethod.BANK
    payout_account_name: str = Field(default="", max_length=100)
    payout_account: str = Field(default="", max_length=64)
    payout_bank_name: str = Field(default="", max_length=100)
    effective_from: dt.date
    effective_to: dt.date | None = None
    note: str = Field(default="", max_length=200)


class ContractOut(Schema):
    id: uuid.UUID
    merchant_id: uuid.UUID
    kind: str
    commission_rate: Decimal
    category_rates: dict[str, str]
    rent_amount: Decimal
    minimum_amount: Decimal
    cycle: str
    payout_method: str
    payout_account_name: str
    payout_account: str = Field(description="masked: only the last four characters")
    payout_bank_name: str
    effective_from: dt.date
    effective_to: dt.date | None
    note: str
    created_at: dt.datetime
    created_by: str


class ApiKeyCreateIn(Schema):
    name: str = Field(default="", max_length=100)


class ApiKeyOut(Schema):
    key_id: str
    name: str
    merchant_id: uuid.UUID
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiKeySecretOut(ApiKeyOut):
    secret: str


class PingOut(Schema):
    ok: bool
    tenant: str
    merchant: MerchantOut
    key_id: str
