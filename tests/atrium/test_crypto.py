"""`atrium.crypto.keyed_hash`: the stored lookup hashes (phones, sale requests) never change."""

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from atrium.crypto import keyed_hash


def _fresh(key: str, value: str) -> str:
    return hmac.new(f"atrium.lookup:{key}".encode(), value.encode(), hashlib.sha256).hexdigest()


@given(value=st.text(max_size=200))
def test_a_keyed_hash_is_the_hmac_of_the_value_under_the_lookup_key(value):
    from django.conf import settings

    assert keyed_hash(value) == _fresh(settings.FIELD_ENCRYPTION_KEY, value)


def test_another_key_gives_its_own_hashes(settings):
    before = keyed_hash("13800138000")
    settings.FIELD_ENCRYPTION_KEY = "another-test-key"
    assert keyed_hash("13800138000") == _fresh("another-test-key", "13800138000")
    assert keyed_hash("13800138000") != before
