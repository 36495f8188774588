"""`accept_signed_requests`: the POS ingest's signature check of a group of calls, in one Redis
round trip, leaving no mark on a call it does not accept (Django's full check then answers it)."""

import itertools
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django_tenants.utils import tenant_context

from apps.merchants import keyring
from apps.merchants.errors import SignatureReplayedError
from apps.merchants.models import ApiKey
from apps.merchants.services import (
    SignedRequest,
    accept_signed_requests,
    revoke_api_key,
    verify_signed_request,
)
from tests.conftest import signed_headers

PATH = "/api/integration/v1/sales"


@pytest.fixture
def stamps():
    return itertools.count(int(time.time()), -1)


def _request(shop, stamp, body=b"{}", secret=None):
    headers = signed_headers(shop.key_id, secret or shop.secret, "POST", PATH, body, stamp)
    return SignedRequest(
        shop.key_id,
        headers["X-Atrium-Timestamp"],
        headers["X-Atrium-Signature"],
        "POST",
        PATH,
        body,
    )


def _seen(request):
    return cache.get(f"hmac-seen:{request.key_id}:{request.signature}") is not None


def test_a_group_is_checked_in_one_round_trip_each_call_on_its_own(
    mall_a, make_merchant, stamps, redis_sends
):
    tea, books = make_merchant(mall_a, name="Tea"), make_merchant(mall_a, name="Books")
    good = [_request(tea, next(stamps)), _request(books, next(stamps)), _request(tea, next(stamps))]
    forged = _request(tea, next(stamps), secret="not-the-secret")
    with tenant_context(mall_a):
        accept_signed_requests([_request(tea, next(stamps)), _request(books, next(stamps))])  # warm
        redis_sends.clear()
        accepted = accept_signed_requests([*good, forged, good[0]])
        assert len(redis_sends) == 1  # every mark and the generation token in one pipeline
        assert [key.key_id if key else None for key in accepted] == [
            tea.key_id, books.key_id, tea.key_id, None, None,
        ]  # fmt: skip
        assert [key.merchant.name for key in accepted[:3]] == ["Tea", "Books", "Tea"]
        assert [_seen(r) for r in (*good, forged)] == [True, True, True, False]
        # The repeated call was left unmarked by its own check: the full check calls it a replay.
        with pytest.raises(SignatureReplayedError):
            verify_signed_request(
                key_id=good[0].key_id, timestamp=good[0].timestamp, signature=good[0].signature,
                method="POST", path=PATH, body=b"{}",
            )  # fmt: skip
    connection.set_schema_to_public()


def test_keys_not_read_yet_are_read_and_their_use_recorded(mall_a, make_merchant, stamps):
    tea = make_merchant(mall_a, name="Tea")
    with tenant_context(mall_a):
        keyring._entries.clear()
        cache.delete(f"api-key-used:{tea.key_id}")
        (accepted,) = accept_signed_requests([_request(tea, next(stamps))])
        assert accepted.key_id == tea.key_id
        assert ApiKey.objects.get(pk=tea.key_id).last_used_at is not None
    connection.set_schema_to_public()


def test_a_key_revoked_since_it_was_read_is_refused_without_marks(mall_a, make_merchant, stamps):
    tea = make_merchant(mall_a, name="Tea")
    with tenant_context(mall_a):
        accept_signed_requests([_request(tea, next(stamps))])  # read into the keyring
        revoke_api_key(api_key=ApiKey.objects.get(pk=tea.key_id))  # bumps the generation
        cache.delete(f"api-key-used:{tea.key_id}")
        late = _request(tea, next(stamps))
        assert accept_signed_requests([late]) == [None]
        assert (_seen(late), cache.get(f"api-key-used:{tea.key_id}")) == (False, None)
    connection.set_schema_to_public()
