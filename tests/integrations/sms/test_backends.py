"""The `memory` and `file` backends, and the backend switch."""

import pytest

from integrations.sms.client import get_backend, memory_outbox, send_sms


@pytest.fixture(autouse=True)
def _empty_outbox():
    memory_outbox.clear()
    yield
    memory_outbox.clear()


def test_memory_backend_keeps_an_inspectable_outbox(settings):
    settings.SMS_BACKEND = "memory"
    sent = send_sms(
        phone="13800138000", text="您的验证码是123456", template="otp", params={"code": "123456"}
    )
    (message,) = memory_outbox.messages
    assert (sent.backend, sent.message_id) == ("memory", message.message_id)
    assert (message.phone, message.text, message.template, message.params) == (
        "13800138000",
        "您的验证码是123456",
        "otp",
        {"code": "123456"},
    )
    assert memory_outbox.to("13800138000") == [message]
    assert memory_outbox.to("13900139000") == []


def test_file_backend_writes_one_file_per_message(settings, tmp_path):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_DIR = tmp_path / "sms"
    send_sms(phone="13800138000", text="第一条", template="otp")
    send_sms(phone="13900139000", text="第二条", template="otp")
    files = sorted((tmp_path / "sms").iterdir())
    assert [f.suffix for f in files] == [".txt", ".txt"]
    assert [f.read_text(encoding="utf-8") for f in files] == [
        "To: 13800138000\nTemplate: otp\n\n第一条\n",
        "To: 13900139000\nTemplate: otp\n\n第二条\n",
    ]


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown SMS backend"):
        get_backend("pigeon")
