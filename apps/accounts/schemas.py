import datetime as dt
import uuid

from ninja import Field, Schema

from apps.accounts.choices import StaffRole


class AcceptInvitationIn(Schema):
    token: str = Field(min_length=10, max_length=200)
    password: str = Field(min_length=1, max_length=200)


class StaffCreateIn(Schema):
    username: str = Field(min_length=2, max_length=150, pattern=r"^[A-Za-z0-9_.@+-]+$")
    email: str = Field(default="", max_length=254)
    display_name: str = Field(default="", max_length=150)
    role: StaffRole
    merchant_id: uuid.UUID | None = None


class StaffUpdateIn(Schema):
    role: StaffRole | None = None
    display_name: str | None = Field(default=None, max_length=150)
    email: str | None = Field(default=None, max_length=254)
    is_active: bool | None = None


class StaffOut(Schema):
    id: uuid.UUID
    username: str
    email: str
    display_name: str
    role: str
    merchant_id: uuid.UUID | None
    is_active: bool
    last_login_at: dt.datetime | None
    created_at: dt.datetime


class StaffInvitedOut(StaffOut):
    invitation_url: str


class MerchantRefOut(Schema):
    id: uuid.UUID
    name: str


class MeOut(Schema):
    id: uuid.UUID
    username: str
    display_name: str
    role: str
    permissions: list[str]
    tenant: str
    merchant: MerchantRefOut | None = None
