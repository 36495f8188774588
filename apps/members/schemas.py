import datetime as dt
import uuid

from ninja import Schema


class MemberMeOut(Schema):
    id: uuid.UUID
    member_no: str
    display_name: str
    tenant: str
    created_at: dt.datetime
