"""How every API renders its JSON: ninja's encoder's values, written by orjson.

Ninja's `JSONRenderer` runs `json.dumps` with `NinjaJSONEncoder`, whose Python `default` is called
for every UUID, decimal and date of an answer: a POS batch of 500 sales answers with 1,000 ids.
orjson writes strings, numbers, UUIDs and str-based enums itself and asks the same encoder for the
rest (dates and times included, so they keep Django's format: milliseconds, `Z` for UTC). The
values are those of `json.dumps` (but a plain `Enum`'s, which orjson writes as its value, where
ninja writes `Class.NAME`; our schemas have none); the text is compact and UTF-8 rather than
`\\uXXXX` escapes (docs/adr/0023-the-batch-endpoints-python.md).
"""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpRequest
from ninja.renderers import BaseRenderer
from ninja.responses import NinjaJSONEncoder

_encoder = NinjaJSONEncoder()
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


class JsonRenderer(BaseRenderer):
    media_type = "application/json"

    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> bytes:
        return orjson.dumps(data, default=_encoder.default, option=_OPTIONS)
