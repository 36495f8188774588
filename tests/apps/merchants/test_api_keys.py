"""POS API keys: HMAC-signed requests, replay, skew, rotation and revocation."""

import json
import time

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.merchants.models import ApiKey
from atrium.crypto import decrypt
from tests.conftest import Api, host_of, signed_headers

PING = "/api/integration/v1/ping"


@pytest.fixture
def shop(mall_a, make_merchant):
    return make_merchant(mall_a, name="Tea House")


def _ping(shop, host="mall-a", **kw):
    return Api(host_of(host)).get(
        PING, headers=signed_headers(shop.key_id, shop.secret, "GET", PING, **kw)
    )


def test_signed_ping_answers_the_merchant(shop):
    response = _ping(shop)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["ok"], body["tenant"], body["key_id"]) == (True, "mall-a", shop.key_id)
    assert body["merchant"]["name"] == "Tea House"


def test_signature_follows_the_documented_recipe(shop):
    import hashlib
    import hmac

    ts = str(int(time.time()))
    message = f"GET\n{PING}\n{ts}\n{hashlib.sha256(b'').hexdigest()}"
    signature = hmac.new(shop.secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    response = Api(host_of("mall-a")).get(
        PING,
        headers={
            "X-Atrium-Key": shop.key_id,
            "X-Atrium-Timestamp": ts,
            "X-Atrium-Signature": signature,
        },
    )
    assert response.status_code == 200


def test_a_replayed_signature_is_refused(shop):
    headers = signed_headers(shop.key_id, shop.secret, "GET", PING)
    api = Api(host_of("mall-a"))
    assert api.get(PING, headers=headers).status_code == 200
    again = api.get(PING, headers=headers)
    assert (again.status_code, again.json()["code"]) == (401, "auth.signature_replayed")


@pytest.mark.parametrize("offset", [-301, 301, -3600])
def test_a_stale_or_future_timestamp_is_refused(shop, offset):
    response = _ping(shop, timestamp=int(time.time()) + offset)
    assert (response.status_code, response.json()["code"]) == (401, "auth.signature_expired")


def test_a_timestamp_inside_the_window_is_accepted(shop):
    assert _ping(shop, timestamp=int(time.time()) - 290).status_code == 200


def test_a_wrong_secret_is_refused(shop):
    headers = signed_headers(shop.key_id, "not-the-secret", "GET", PING)
    response = Api(host_of("mall-a")).get(PING, headers=headers)
    assert (response.status_code, response.json()["code"]) == (401, "auth.signature_invalid")


def test_a_signature_over_another_body_or_path_is_refused(mall_a, shop, console_a):
    headers = signed_headers(shop.key_id, shop.secret, "GET", "/api/integration/v1/other")
    response = Api(host_of("mall-a")).get(PING, headers=headers)
    assert response.json()["code"] == "auth.signature_invalid"
    headers = signed_headers(shop.key_id, shop.secret, "GET", PING, body=b'{"x":1}')
    response = Api(host_of("mall-a")).get(PING, headers=headers)
    assert response.json()["code"] == "auth.signature_invalid"


def test_non_numeric_timestamp_and_unknown_key(shop):
    headers = signed_headers(shop.key_id, shop.secret, "GET", PING)
    headers["X-Atrium-Timestamp"] = "yesterday"
    assert (
        Api(host_of("mall-a")).get(PING, headers=headers).json()["code"] == "auth.signature_invalid"
    )
    headers = signed_headers("ak_unknown", shop.secret, "GET", PING)
    assert (
        Api(host_of("mall-a")).get(PING, headers=headers).json()["code"] == "auth.signature_invalid"
    )


def test_missing_headers_are_401(shop):
    response = Api(host_of("mall-a")).get(PING)
    assert (response.status_code, response.json()["code"]) == (401, "auth.unauthenticated")


def test_a_key_of_mall_a_is_refused_by_mall_b(shop, mall_b):
    response = _ping(shop, host="mall-b")
    assert (response.status_code, response.json()["code"]) == (401, "auth.signature_invalid")


def test_secret_is_shown_once_and_stored_encrypted(console_a, mall_a):
    merchant = console_a.post("/api/console/v1/merchants", {"name": "Books"}).json()
    created = console_a.post(
        f"/api/console/v1/merchants/{merchant['id']}/api-keys", {"name": "till"}
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    with tenant_context(mall_a):
        stored = ApiKey.objects.get(pk=created.json()["key_id"])
        assert secret not in stored.secret_encrypted
        assert decrypt(stored.secret_encrypted) == secret
    connection.set_schema_to_public()
    listed = console_a.get(f"/api/console/v1/merchants/{merchant['id']}/api-keys").json()
    assert [key["key_id"] for key in listed] == [created.json()["key_id"]]
    assert "secret" not in json.dumps(listed)


def test_rotation_issues_a_new_key_and_kills_the_old(console_a, shop):
    rotated = console_a.post(
        f"/api/console/v1/merchants/{shop.merchant.pk}/api-keys/{shop.key_id}/rotate"
    )
    assert rotated.status_code == 201
    new_key, new_secret = rotated.json()["key_id"], rotated.json()["secret"]
    assert new_key != shop.key_id
    old = _ping(shop)
    assert (old.status_code, old.json()["code"]) == (401, "auth.api_key_revoked")
    headers = signed_headers(new_key, new_secret, "GET", PING)
    assert Api(host_of("mall-a")).get(PING, headers=headers).status_code == 200
    again = console_a.post(
        f"/api/console/v1/merchants/{shop.merchant.pk}/api-keys/{shop.key_id}/rotate"
    )
    assert (again.status_code, again.json()["code"]) == (401, "auth.api_key_revoked")


def test_revoked_key_is_refused_at_once(console_a, shop):
    revoked = console_a.delete(
        f"/api/console/v1/merchants/{shop.merchant.pk}/api-keys/{shop.key_id}"
    )
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    response = _ping(shop)
    assert (response.status_code, response.json()["code"]) == (401, "auth.api_key_revoked")


def test_a_key_cannot_be_managed_through_another_merchant(console_a, mall_a, make_merchant):
    first = make_merchant(mall_a, name="First")
    second = make_merchant(mall_a, name="Second")
    response = console_a.delete(
        f"/api/console/v1/merchants/{second.merchant.pk}/api-keys/{first.key_id}"
    )
    assert (response.status_code, response.json()["code"]) == (404, "merchant.api_key_not_found")
    assert _ping(first).status_code == 200
