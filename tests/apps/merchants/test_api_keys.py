"""POS API keys: HMAC-signed requests, replay, skew, rotation and revocation."""

import itertools
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


# Ten seconds past the 300 s window: the timestamp is whole seconds, so an offset of 301 lands
# inside the window once the request takes as long as the second's fraction left (a slow box).
@pytest.mark.parametrize("offset", [-310, 310, -3600])
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


# --- the per-process keyring: no query in steady state, every change seen on the next call -----


@pytest.fixture
def stamps():
    """Distinct timestamps inside the window: two pings in one second would be a replay."""
    return itertools.count(int(time.time()) - 250)


def _again(shop, stamps):
    return _ping(shop, timestamp=next(stamps))


def test_a_warm_signed_call_runs_no_query_and_one_redis_round_trip_for_auth(
    shop, django_assert_num_queries, redis_sends, stamps, monkeypatch
):
    monkeypatch.setattr("tenants.selectors.LOCAL_ROUTE_SECONDS", 60.0)  # a slow box keeps it
    assert _again(shop, stamps).status_code == 200  # warm-up: reads the key and marks it used
    redis_sends.clear()
    sent = redis_sends
    with django_assert_num_queries(0):
        response = _again(shop, stamps)
    assert (response.status_code, response.json()["merchant"]["name"]) == (200, "Tea House")
    # The tenant route is this process's copy (read within the second); the replay mark and the
    # keyring's generation go in one pipeline.
    assert len(sent) == 1
    assert b"hmac-seen:" in sent[0][0]
    assert b"merchants:auth:generation" in sent[0][0]


def test_the_keyring_gives_fresh_model_instances_with_every_field(mall_a, shop, stamps):
    from apps.merchants.models import Merchant
    from apps.merchants.services import verify_signed_request

    def verify():
        headers = signed_headers(shop.key_id, shop.secret, "GET", PING, timestamp=next(stamps))
        return verify_signed_request(
            key_id=shop.key_id,
            timestamp=headers["X-Atrium-Timestamp"],
            signature=headers["X-Atrium-Signature"],
            method="GET",
            path=PING,
            body=b"",
        )

    with tenant_context(mall_a):
        first, second = verify(), verify()
        stored = Merchant.objects.get(pk=shop.merchant.pk)
    assert type(first) is ApiKey
    assert type(first.merchant) is Merchant
    assert first is not second
    assert first.merchant is not second.merchant
    assert (first.pk, first.key_id, first.merchant_id, first.revoked_at) == (
        shop.key_id,
        shop.key_id,
        stored.pk,
        None,
    )
    assert (first.get_deferred_fields(), first.merchant.get_deferred_fields()) == (set(), set())
    assert (
        first.merchant.pk,
        first.merchant.name,
        first.merchant.business_format,
        first.merchant.status,
        first.merchant.is_active,
        first.merchant.created_at,
    ) == (
        stored.pk,
        "Tea House",
        "retail",
        "active",
        True,
        stored.created_at,
    )
    assert first.merchant._state.adding is False


def test_a_revoke_refuses_the_next_call_of_a_warm_keyring(mall_a, shop, stamps):
    from apps.merchants.services import revoke_api_key

    assert _again(shop, stamps).status_code == 200
    with tenant_context(mall_a):
        revoke_api_key(api_key=ApiKey.objects.get(pk=shop.key_id))
    # This process keeps its (now stale) entry, exactly as another process would.
    response = _again(shop, stamps)
    assert (response.status_code, response.json()["code"]) == (401, "auth.api_key_revoked")


def test_a_suspended_merchant_is_refused_on_the_next_call_and_readmitted_after(
    mall_a, shop, stamps
):
    from apps.merchants.services import update_merchant

    assert _again(shop, stamps).status_code == 200
    with tenant_context(mall_a):
        update_merchant(merchant=shop.merchant, changes={"status": "suspended"})
    response = _again(shop, stamps)
    assert (response.status_code, response.json()["code"]) == (401, "auth.api_key_revoked")
    assert response.json()["message"] == "merchant is inactive"
    with tenant_context(mall_a):
        update_merchant(merchant=shop.merchant, changes={"status": "active"})
    assert _again(shop, stamps).status_code == 200


def test_a_merchant_edit_shows_on_the_next_call(mall_a, shop, stamps):
    from apps.merchants.services import update_merchant

    assert _again(shop, stamps).json()["merchant"]["name"] == "Tea House"
    with tenant_context(mall_a):
        update_merchant(merchant=shop.merchant, changes={"name": "Tea Garden"})
    assert _again(shop, stamps).json()["merchant"]["name"] == "Tea Garden"


def test_a_rotation_refuses_the_old_key_of_a_warm_keyring_and_admits_the_new(mall_a, shop, stamps):
    from apps.merchants.services import rotate_api_key

    assert _again(shop, stamps).status_code == 200
    with tenant_context(mall_a):
        issued = rotate_api_key(api_key=ApiKey.objects.get(pk=shop.key_id))
    old = _again(shop, stamps)
    assert (old.status_code, old.json()["code"]) == (401, "auth.api_key_revoked")
    headers = signed_headers(issued.api_key.key_id, issued.secret, "GET", PING)
    assert Api(host_of("mall-a")).get(PING, headers=headers).status_code == 200


def test_a_stale_entry_with_a_bad_signature_answers_as_the_current_rows_rank(mall_a, shop, stamps):
    from apps.merchants.services import revoke_api_key

    assert _again(shop, stamps).status_code == 200
    with tenant_context(mall_a):
        revoke_api_key(api_key=ApiKey.objects.get(pk=shop.key_id))
    headers = signed_headers(shop.key_id, "not-the-secret", "GET", PING, timestamp=next(stamps))
    response = Api(host_of("mall-a")).get(PING, headers=headers)
    assert (response.status_code, response.json()["code"]) == (401, "auth.api_key_revoked")


def test_every_change_bumps_the_generation_now_and_again_at_commit(
    mall_a, shop, django_capture_on_commit_callbacks
):
    from apps.merchants import keyring
    from apps.merchants.services import revoke_api_key

    with tenant_context(mall_a):
        before = keyring.generation()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            revoke_api_key(api_key=ApiKey.objects.get(pk=shop.key_id))
            during = keyring.generation()
        after = keyring.generation()
    assert len(callbacks) == 1
    assert len({before, during, after}) == 3


def test_a_replayed_call_on_a_warm_keyring_is_refused(shop, stamps):
    headers = signed_headers(shop.key_id, shop.secret, "GET", PING, timestamp=next(stamps))
    api = Api(host_of("mall-a"))
    assert _again(shop, stamps).status_code == 200
    assert api.get(PING, headers=headers).status_code == 200
    again = api.get(PING, headers=headers)
    assert (again.status_code, again.json()["code"]) == (401, "auth.signature_replayed")
