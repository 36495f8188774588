"""Every API's answers are rendered by orjson with ninja's encoder's values: the same JSON values
as ninja's own renderer (dates in Django's format), as compact UTF-8; a plain Enum as its value."""

import datetime as dt
import json
import uuid
from decimal import Decimal
from enum import Enum

from django.test import RequestFactory
from django.utils.translation import gettext_lazy
from ninja.renderers import JSONRenderer
from pydantic import BaseModel

from apps.sales.choices import Channel
from atrium.api import console_api, integration_api, member_api, merchant_api, provider_api
from atrium.renderers import JsonRenderer


class Colour(Enum):
    RED = "red"


class Inner(BaseModel):
    amount: Decimal
    at: dt.datetime


AT = dt.datetime(2026, 12, 7, 21, 5, 9, 123456, tzinfo=dt.UTC)
VALUE = {
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "amount": Decimal("12.30"),
    "at": AT,
    "local": AT.astimezone(dt.timezone(dt.timedelta(hours=8))),
    "day": dt.date(2026, 12, 7),
    "time": dt.time(9, 30, 1, 500000),
    "message": "积分不足",
    "lazy": gettext_lazy("积分不足"),
    "channel": Channel.POS,
    "colour": Colour.RED,
    "model": Inner(amount=Decimal("1.50"), at=AT),
    "rows": ({"n": 1}, [None, True, 2**62]),
    3: "int key",
}


def test_the_values_are_ninjas_own_and_the_text_compact_utf8():
    request = RequestFactory().get("/")
    ours = JsonRenderer().render(request, VALUE, response_status=200)
    theirs = JSONRenderer().render(request, VALUE, response_status=200)
    # The values of ninja's renderer, but a plain Enum's (none in our schemas): its value.
    assert {**json.loads(ours), "colour": "Colour.RED"} == json.loads(theirs)
    assert json.loads(ours) == {
        "id": "12345678-1234-5678-1234-567812345678",
        "amount": "12.30",
        "at": "2026-12-07T21:05:09.123Z",
        "local": "2026-12-08T05:05:09.123+08:00",
        "day": "2026-12-07",
        "time": "09:30:01.500",
        "message": "积分不足",
        "lazy": "积分不足",
        "channel": "pos",
        "colour": "red",
        "model": {"amount": "1.50", "at": "2026-12-07T21:05:09.123Z"},
        "rows": [{"n": 1}, [None, True, 2**62]],
        "3": "int key",
    }
    assert '"message":"积分不足"'.encode() in ours  # UTF-8, not \u escapes, no spaces


def test_every_api_renders_with_it():
    apis = (provider_api, console_api, merchant_api, member_api, integration_api)
    assert {type(api.renderer) for api in apis} == {JsonRenderer}
