"""Code-to-session through wechatpy against the local fake of WeChat's server API."""

import pytest

from integrations.wechat.client import (
    MiniProgramClient,
    WeChatCodeInvalidError,
    WeChatConfig,
    WeChatRejectedError,
    WeChatUnavailableError,
    code_to_session,
)
from integrations.wechat.fake import FakeWeChat


@pytest.fixture
def fake():
    with FakeWeChat(app_id="wx-app", app_secret="app-secret") as server:
        yield server


def _config(fake, **overrides):
    values = {"app_id": "wx-app", "app_secret": "app-secret", "api_base": fake.api_base}
    values.update(overrides)
    return WeChatConfig(**values)


def test_a_known_code_gives_openid_unionid_and_session_key(fake):
    fake.add_code("c-1", openid="o-1234567", unionid="u-7654321", session_key="sk-secret")
    session = code_to_session("c-1", config=_config(fake))
    assert (session.openid, session.unionid, session.session_key) == (
        "o-1234567",
        "u-7654321",
        "sk-secret",
    )
    assert "sk-secret" not in repr(session)
    assert fake.calls == ["/sns/jscode2session"]  # no access token was fetched


def test_without_unionid(fake):
    fake.add_code("c-1", openid="o-1234567")
    assert code_to_session("c-1", config=_config(fake)).unionid is None


def test_unknown_and_used_codes(fake):
    with pytest.raises(WeChatCodeInvalidError) as unknown:
        code_to_session("nope", config=_config(fake))
    assert (unknown.value.errcode, unknown.value.retryable) == (40029, False)
    fake.add_code("c-1", openid="o-1234567")
    code_to_session("c-1", config=_config(fake))
    with pytest.raises(WeChatCodeInvalidError) as used:
        code_to_session("c-1", config=_config(fake))
    assert used.value.errcode == 40163


@pytest.mark.parametrize(
    ("overrides", "errcode"),
    [({"app_id": "wx-other"}, 40013), ({"app_secret": "wrong"}, 40125)],
)
def test_the_fake_checks_appid_and_secret(fake, overrides, errcode):
    fake.add_code("c-1", openid="o-1234567")
    with pytest.raises(WeChatRejectedError) as caught:
        code_to_session("c-1", config=_config(fake, **overrides))
    assert (caught.value.errcode, caught.value.retryable) == (errcode, False)


def test_not_configured():
    with pytest.raises(WeChatRejectedError):
        code_to_session("c-1", config=WeChatConfig(app_id="", app_secret=""))


def test_unreachable_wechat_is_retryable():
    config = WeChatConfig(app_id="wx", app_secret="s", api_base="http://127.0.0.1:9", timeout=1)
    with pytest.raises(WeChatUnavailableError) as caught:
        code_to_session("c-1", config=config)
    assert caught.value.retryable is True


def test_access_token_comes_from_the_same_base(fake):
    client = MiniProgramClient(_config(fake))
    assert client.access_token
    assert fake.calls == ["/cgi-bin/token"]


def test_api_base_must_be_http():
    with pytest.raises(ValueError, match="http"):
        WeChatConfig(app_id="a", app_secret="b", api_base="ftp://x")
