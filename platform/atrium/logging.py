"""JSON log lines carrying the tenant, request id and actor of the work being done."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
from typing import Any

tenant_var: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="public")
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
actor_var: contextvars.ContextVar[str] = contextvars.ContextVar("actor", default="")

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra fields of the record are kept."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            "tenant": tenant_var.get(),
        }
        if request_id := request_id_var.get():
            line["request_id"] = request_id
        if actor := actor_var.get():
            line["actor"] = actor
        line.update(
            {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
        )
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)
