from __future__ import annotations

import datetime as dt
import uuid

from ninja import Schema


class ImportJobOut(Schema):
    id: uuid.UUID
    kind: str
    status: str
    merchant_id: uuid.UUID | None
    filename: str
    total_rows: int
    processed: int
    succeeded: int
    failed: int
    error: str
    created_by_id: uuid.UUID
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
