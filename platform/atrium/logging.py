"""JSON log lines carrying the tenant, request id, task id and actor of the work being done.

`RedactingFilter` is the safety net behind the rule "no phones, tokens or secrets in logs": it
masks mainland mobile numbers and bearer tokens in every line, whoever wrote it.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
from typing import Any

tenant_var: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="public")
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
task_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("task_id", default="")
actor_var: contextvars.ContextVar[str] = contextvars.ContextVar("actor", default="")

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

# A mainland mobile number (optionally +86, spaced or hyphenated) standing alone, not inside a
# longer number or an identifier: 138****1234.
_PHONE_RE = re.compile(
    r"(?<![0-9A-Za-z])(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?![0-9A-Za-z])"
)
_BEARER_RE = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=:-]+")
_SECRET_PARAM_RE = re.compile(
    r"(?i)\b((?:access_token|refresh_token|token|password|secret|signature)[\"']?\s*[=:]\s*[\"']?)"
    r"[^\s&\"',;}]+"
)
REDACTED = "[redacted]"


def mask_sensitive(text: str) -> str:
    """Mask phone numbers, bearer tokens and `token=`/`password=`-style values in a text."""
    text = _BEARER_RE.sub(rf"\1{REDACTED}", text)
    text = _SECRET_PARAM_RE.sub(rf"\1{REDACTED}", text)
    return _PHONE_RE.sub(r"\1****\3", text)


def mask_deep(value: Any) -> Any:
    """`mask_sensitive` applied to every string inside dicts, lists and tuples."""
    if isinstance(value, str):
        return mask_sensitive(value)
    if isinstance(value, dict):
        return {key: mask_deep(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_deep(item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """Rewrites a record's message, extras and traceback with `mask_sensitive`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_sensitive(message)
        if masked != message:
            record.msg, record.args = masked, None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and not key.startswith("_"):
                setattr(record, key, mask_deep(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_sensitive(record.exc_text)
        return True


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
        if task_id := task_id_var.get():
            line["task_id"] = task_id
        if actor := actor_var.get():
            line["actor"] = actor
        line.update(
            {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
        )
        if record.exc_text:
            line["exception"] = record.exc_text
        elif record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)
