"""Send a text message through the backend named by `SMS_BACKEND`.

- `file` (the demo): each message is a file in `SMS_FILE_DIR` holding the number and the text.
- `memory` (tests): messages land in `memory_outbox`, which tests read and clear.
- `aliyun` (production): Aliyun Dysms `SendSms` with a template per message kind
  (`SMS_ALIYUN_TEMPLATES`), see `integrations.sms.aliyun`.

Callers pass both the rendered `text` (what `file`/`memory` keep) and the `template` name with its
`params` (what Aliyun needs: it only sends pre-approved templates). Logs carry the backend, the
template and the provider's message id, never the number or the text.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from django.conf import settings

from integrations.sms import aliyun
from integrations.sms.errors import SmsError, SmsRejectedError, SmsRetryableError

__all__ = [
    "BACKENDS",
    "SentSms",
    "SmsError",
    "SmsMessage",
    "SmsRejectedError",
    "SmsRetryableError",
    "get_backend",
    "memory_outbox",
    "send_sms",
]

logger = logging.getLogger("integrations.sms")

BACKENDS = ("file", "memory", "aliyun")


@dataclass(frozen=True)
class SmsMessage:
    """One message as the `file` and `memory` backends keep it."""

    phone: str
    text: str
    template: str
    params: Mapping[str, str]
    message_id: str
    sent_at: dt.datetime


@dataclass(frozen=True)
class SentSms:
    backend: str
    message_id: str


class SmsBackend(Protocol):
    name: str

    def send(self, *, phone: str, text: str, template: str, params: Mapping[str, str]) -> str:
        """Send one message; returns the backend's message id. Raises SmsError."""
        ...


@dataclass
class MemoryOutbox:
    """Messages sent with the `memory` backend, oldest first (thread-safe)."""

    messages: list[SmsMessage] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, message: SmsMessage) -> None:
        with self._lock:
            self.messages.append(message)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def to(self, phone: str) -> list[SmsMessage]:
        """Messages sent to one number."""
        with self._lock:
            return [m for m in self.messages if m.phone == phone]


memory_outbox = MemoryOutbox()


def _message(*, phone: str, text: str, template: str, params: Mapping[str, str]) -> SmsMessage:
    return SmsMessage(
        phone=phone,
        text=text,
        template=template,
        params=dict(params),
        message_id=uuid.uuid4().hex,
        sent_at=dt.datetime.now(dt.UTC),
    )


class MemoryBackend:
    name = "memory"

    def send(self, *, phone: str, text: str, template: str, params: Mapping[str, str]) -> str:
        message = _message(phone=phone, text=text, template=template, params=params)
        memory_outbox.add(message)
        return message.message_id


class FileBackend:
    """One UTF-8 file per message: `To:`, `Template:`, a blank line, then the text."""

    name = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, *, phone: str, text: str, template: str, params: Mapping[str, str]) -> str:
        message = _message(phone=phone, text=text, template=template, params=params)
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = message.sent_at.strftime("%Y%m%dT%H%M%S%fZ")
        final = self.folder / f"{stamp}-{message.message_id}.txt"
        partial = final.with_suffix(".part")
        partial.write_text(f"To: {phone}\nTemplate: {template}\n\n{text}\n", encoding="utf-8")
        # A reader watching the folder (the demo, browser tests) never sees half a message.
        os.replace(partial, final)
        return message.message_id


class AliyunBackend:
    name = "aliyun"

    def __init__(self, config: aliyun.AliyunConfig) -> None:
        self.config = config

    def send(self, *, phone: str, text: str, template: str, params: Mapping[str, str]) -> str:
        return aliyun.send_sms(config=self.config, phone=phone, template=template, params=params)


def aliyun_config_from_settings() -> aliyun.AliyunConfig:
    """The Aliyun settings as a config (settings checks at boot that they are all there)."""
    return aliyun.AliyunConfig(
        access_key_id=settings.SMS_ALIYUN_ACCESS_KEY_ID,
        access_key_secret=settings.SMS_ALIYUN_ACCESS_KEY_SECRET,
        sign_name=settings.SMS_ALIYUN_SIGN_NAME,
        templates=dict(settings.SMS_ALIYUN_TEMPLATES),
        endpoint=settings.SMS_ALIYUN_ENDPOINT,
        region=settings.SMS_ALIYUN_REGION,
        timeout=float(settings.SMS_TIMEOUT_SECONDS),
    )


def get_backend(name: str | None = None) -> SmsBackend:
    """The backend named by `SMS_BACKEND` (or `name`). Raises ValueError for an unknown name."""
    chosen = name or settings.SMS_BACKEND
    if chosen == "memory":
        return MemoryBackend()
    if chosen == "file":
        return FileBackend(Path(settings.SMS_FILE_DIR))
    if chosen == "aliyun":
        return AliyunBackend(aliyun_config_from_settings())
    raise ValueError(f"unknown SMS backend {chosen!r}; expected one of {BACKENDS}")


def send_sms(
    *, phone: str, text: str, template: str, params: Mapping[str, str] | None = None
) -> SentSms:
    """Send one message. Raises SmsRetryableError or SmsRejectedError."""
    backend = get_backend()
    try:
        message_id = backend.send(phone=phone, text=text, template=template, params=params or {})
    except SmsError as exc:
        logger.warning(
            "sms.failed",
            extra={
                "backend": backend.name,
                "template": template,
                "reason": exc.code,
                "retryable": exc.retryable,
            },
        )
        raise
    logger.info(
        "sms.sent", extra={"backend": backend.name, "template": template, "message_id": message_id}
    )
    return SentSms(backend=backend.name, message_id=message_id)
