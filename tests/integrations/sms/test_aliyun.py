"""The Aliyun backend against the local fake, which checks signatures as Aliyun does."""

import base64
import datetime as dt
import hashlib
import hmac
import json
import urllib.parse
import urllib.request

import pytest

from integrations.sms import aliyun
from integrations.sms.client import SmsRejectedError, SmsRetryableError, send_sms
from integrations.sms.fake import FakeAliyunSms, aliyun_string_to_sign

KEY_ID, SECRET = "LTAI-test-key", "test-secret-value"
TEMPLATE_CODE = "SMS_465000001"

# Aliyun's documented worked examples of the RPC signature (ECS DescribeRegions, Dysms SendSms).
DESCRIBE_REGIONS = {
    "Timestamp": "2016-02-23T12:46:24Z",
    "Format": "XML",
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "Version": "2014-05-26",
    "SignatureVersion": "1.0",
}
SEND_SMS = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}


@pytest.mark.parametrize(
    ("params", "secret", "signature"),
    [
        (DESCRIBE_REGIONS, "testsecret", "OLeaidS1JvxuMvnyHOwuJ+uX5qY="),
        (SEND_SMS, "testSecret", "zJDF+Lrzhj/ThnlvIToysFRq6t4="),
    ],
)
def test_signature_matches_aliyuns_documented_examples(params, secret, signature):
    assert aliyun.sign(method="GET", params=params, secret=secret) == signature
    # the fake's own implementation of the documented encoding agrees
    fake_sts = aliyun_string_to_sign("GET", params)
    expected = hmac.new(f"{secret}&".encode(), fake_sts.encode(), hashlib.sha1).digest()
    assert base64.b64encode(expected).decode() == signature


def test_percent_encoding_follows_rfc_3986():
    assert aliyun.percent_encode("a b*c~d/é+") == "a%20b%2Ac~d%2F%C3%A9%2B"


@pytest.fixture
def fake():
    with FakeAliyunSms(
        access_keys={KEY_ID: SECRET},
        sign_name="阿特里姆",
        templates={TEMPLATE_CODE: "您的验证码为${code}，5分钟内有效。"},
    ) as server:
        yield server


def _config(fake, **overrides):
    values = {
        "access_key_id": KEY_ID,
        "access_key_secret": SECRET,
        "sign_name": "阿特里姆",
        "templates": {"otp": TEMPLATE_CODE},
        "endpoint": fake.endpoint,
        "timeout": 2.0,
    }
    values.update(overrides)
    return aliyun.AliyunConfig(**values)


def test_send_sms_reaches_the_fake(fake):
    biz_id = aliyun.send_sms(
        config=_config(fake), phone="13800138000", template="otp", params={"code": "042917"}
    )
    (message,) = fake.messages
    assert (message.phone, message.template_code, message.template_param, message.biz_id) == (
        "13800138000",
        TEMPLATE_CODE,
        {"code": "042917"},
        biz_id,
    )
    assert message.text == "【阿特里姆】您的验证码为042917，5分钟内有效。"


def _raw_post(fake, params):
    body = urllib.parse.urlencode(params, quote_via=urllib.parse.quote).encode()
    request = urllib.request.Request(fake.endpoint, data=body, method="POST")  # noqa: S310 - the local fake
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - the local fake
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _signed_form(**action):
    return aliyun.signed_params(
        config=aliyun.AliyunConfig(
            access_key_id=KEY_ID, access_key_secret=SECRET, sign_name="x", templates={}
        ),
        action_params={
            "PhoneNumbers": "13800138000",
            "SignName": "阿特里姆",
            "TemplateCode": TEMPLATE_CODE,
            "TemplateParam": '{"code":"1"}',
            **action,
        },
    )


def test_the_fake_refuses_a_tampered_request(fake):
    form = _signed_form()
    form["PhoneNumbers"] = "13900139000"  # changed after signing
    status, body = _raw_post(fake, form)
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    assert body["Message"].startswith("Specified signature is not matched with our calculation.")
    assert fake.messages == []


def test_the_fake_refuses_a_wrong_secret_unknown_key_stale_time_and_reused_nonce(fake):
    with pytest.raises(SmsRejectedError) as wrong_secret:
        aliyun.send_sms(
            config=_config(fake, access_key_secret="not-the-secret"),
            phone="13800138000",
            template="otp",
            params={"code": "1"},
        )
    assert wrong_secret.value.code == "SignatureDoesNotMatch"
    with pytest.raises(SmsRejectedError) as unknown_key:
        aliyun.send_sms(
            config=_config(fake, access_key_id="LTAI-nobody"),
            phone="13800138000",
            template="otp",
            params={"code": "1"},
        )
    assert unknown_key.value.code == "InvalidAccessKeyId.NotFound"
    stale = aliyun.signed_params(
        config=_config(fake),
        action_params={"PhoneNumbers": "13800138000"},
        now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16),
    )
    assert _raw_post(fake, stale)[1]["Code"] == "InvalidTimeStamp.Expired"
    form = _signed_form()
    assert _raw_post(fake, form)[1]["Code"] == "OK"
    status, body = _raw_post(fake, form)  # replayed as it was: same nonce
    assert (status, body["Code"]) == (400, "SignatureNonceUsed")
    assert len(fake.messages) == 1


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"phone": "12345"}, "isv.MOBILE_NUMBER_ILLEGAL"),
        ({"config": {"sign_name": "别的签名"}}, "isv.SMS_SIGNATURE_ILLEGAL"),
        ({"config": {"templates": {"otp": "SMS_000"}}}, "isv.SMS_TEMPLATE_ILLEGAL"),
        ({"params": {}}, "isv.TEMPLATE_MISSING_PARAMETERS"),
        ({"template": "welcome"}, "template_not_configured"),
    ],
)
def test_terminal_errors(fake, kwargs, code):
    call = {"phone": "13800138000", "template": "otp", "params": {"code": "1"}}
    call.update({k: v for k, v in kwargs.items() if k != "config"})
    with pytest.raises(SmsRejectedError) as caught:
        aliyun.send_sms(config=_config(fake, **kwargs.get("config", {})), **call)
    assert (caught.value.code, caught.value.retryable) == (code, False)
    assert fake.messages == []


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("isp.SYSTEM_ERROR", 200),
        ("isv.BUSINESS_LIMIT_CONTROL", 200),
        ("Throttling.User", 400),
        ("ServiceUnavailable", 503),
        ("InternalError", 500),
    ],
)
def test_retryable_errors(fake, code, status):
    fake.fail_next(code, status=status)
    with pytest.raises(SmsRetryableError) as caught:
        aliyun.send_sms(
            config=_config(fake), phone="13800138000", template="otp", params={"code": "1"}
        )
    assert (caught.value.code, caught.value.retryable) == (code, True)
    # the next attempt goes through
    aliyun.send_sms(config=_config(fake), phone="13800138000", template="otp", params={"code": "1"})
    assert len(fake.messages) == 1


def test_a_slow_provider_times_out_as_retryable(fake):
    fake.delay_seconds = 1.0
    with pytest.raises(SmsRetryableError) as caught:
        aliyun.send_sms(
            config=_config(fake, timeout=0.2),
            phone="13800138000",
            template="otp",
            params={"code": "1"},
        )
    assert caught.value.code == "timeout"


def test_unreachable_provider_is_retryable():
    config = aliyun.AliyunConfig(
        access_key_id=KEY_ID,
        access_key_secret=SECRET,
        sign_name="x",
        templates={"otp": "SMS_1"},
        endpoint="http://127.0.0.1:9/",
    )
    with pytest.raises(SmsRetryableError) as caught:
        aliyun.send_sms(config=config, phone="13800138000", template="otp", params={"code": "1"})
    assert caught.value.code == "unreachable"


def test_endpoint_must_be_http():
    with pytest.raises(ValueError, match="http"):
        aliyun.AliyunConfig(
            access_key_id="a",
            access_key_secret="b",
            sign_name="c",
            templates={},
            endpoint="file:///etc/passwd",
        )


def test_client_uses_the_aliyun_backend_from_settings(fake, settings):
    settings.SMS_BACKEND = "aliyun"
    settings.SMS_ALIYUN_ACCESS_KEY_ID = KEY_ID
    settings.SMS_ALIYUN_ACCESS_KEY_SECRET = SECRET
    settings.SMS_ALIYUN_SIGN_NAME = "阿特里姆"
    settings.SMS_ALIYUN_TEMPLATES = {"otp": TEMPLATE_CODE}
    settings.SMS_ALIYUN_ENDPOINT = fake.endpoint
    sent = send_sms(
        phone="13800138000", text="ignored by Aliyun", template="otp", params={"code": "7"}
    )
    assert (sent.backend, sent.message_id) == ("aliyun", fake.messages[0].biz_id)
