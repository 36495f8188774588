import datetime as dt
import uuid

from ninja import Field, Schema


class MerchantCreateIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    business_format: str = Field(default="retail", max_length=32)
    unit: str = Field(default="", max_length=32)


class MerchantOut(Schema):
    id: uuid.UUID
    name: str
    business_format: str
    unit: str
    is_active: bool
    created_at: dt.datetime


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
