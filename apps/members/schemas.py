"""Request and response shapes of the member and console member APIs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from ninja import Schema
from pydantic import Field

from apps.loyalty.schemas import PointsSummaryOut
from atrium.schemas import TokenPairOut

ConsentKindName = Literal["data_processing", "marketing", "third_party_sharing"]
GenderName = Literal["unknown", "male", "female"]
OtpDigits = Field(pattern=r"^\d{6}$")


# --- member API ----------------------------------------------------------------------------


class OtpRequestIn(Schema):
    phone: str = Field(min_length=1, max_length=32)


class OtpSentOut(Schema):
    expires_in: int
    resend_after: int


class OtpLoginIn(Schema):
    phone: str = Field(min_length=1, max_length=32)
    otp: str = OtpDigits
    consents: dict[ConsentKindName, bool] | None = None


class WeChatLoginIn(Schema):
    code: str = Field(min_length=1, max_length=128)
    consents: dict[ConsentKindName, bool] | None = None


class MemberLoginOut(TokenPairOut):
    member_id: uuid.UUID
    member_no: str
    created: bool


class MemberMeOut(Schema):
    id: uuid.UUID
    member_no: str
    name: str
    display_name: str
    gender: str
    birthday: dt.date | None
    phone: str | None = Field(description="the member's phone, masked (138****1234)")
    registration_channel: str
    registered_at: dt.datetime
    status: str
    consents: dict[str, bool]
    tenant: str
    created_at: dt.datetime
    loyalty: PointsSummaryOut


class ProfileUpdateIn(Schema):
    name: str | None = Field(default=None, max_length=100)
    display_name: str | None = Field(default=None, max_length=100)
    gender: GenderName | None = None
    birthday: dt.date | None = None


class ConsentsIn(Schema):
    consents: dict[ConsentKindName, bool] = Field(min_length=1)


class ConsentsOut(Schema):
    consents: dict[str, bool]


class PhoneBindIn(Schema):
    phone: str = Field(min_length=1, max_length=32)
    otp: str = OtpDigits


class PhoneBoundOut(Schema):
    member_id: uuid.UUID
    member_no: str
    merged: bool
    tokens: TokenPairOut | None = Field(
        description="a new token pair when this account was merged into the phone's member"
    )


class CloseIn(Schema):
    confirm: bool
    otp: str | None = Field(default=None, pattern=r"^\d{6}$")


class ClosedOut(Schema):
    member_no: str
    status: str


class MemberCodeOut(Schema):
    code: str = Field(description="18 digits: 9, member reference, TOTP, Luhn check digit")
    qr_payload: str
    barcode: str = Field(description="Code 128 content")
    expires_in: int = Field(description="seconds until the app should show the next code")


# --- console -------------------------------------------------------------------------------


class IdentityOut(Schema):
    kind: str
    value: str
    verified_at: dt.datetime | None


class MemberRefOut(Schema):
    id: uuid.UUID
    member_no: str


class MemberSummaryOut(Schema):
    id: uuid.UUID
    member_no: str
    name: str
    phone: str | None
    status: str
    registration_channel: str
    registered_at: dt.datetime


class MergeOut(Schema):
    id: uuid.UUID
    source: MemberRefOut
    target: MemberRefOut
    actor: str
    reason: str
    automatic: bool
    identities_moved: int
    consents_moved: int
    created_at: dt.datetime


class MemberDetailOut(MemberSummaryOut):
    display_name: str
    gender: str
    birthday: dt.date | None
    merged_into: MemberRefOut | None
    identities: list[IdentityOut]
    consents: dict[str, bool]
    merges: list[MergeOut]
    personal_data_visible: bool


class MergeIn(Schema):
    source_member_id: uuid.UUID
    target_member_id: uuid.UUID
    reason: str = Field(min_length=1, max_length=200)
