"""The Redis cache backend: one client per pool, Django's behaviour kept, pipelines in one trip."""

import pytest
from django.core.cache import cache, caches

from atrium.cache import CachePipeline, RedisCache, pipeline


@pytest.fixture
def backend():
    backend = caches["default"]
    assert type(backend) is RedisCache
    return backend


def test_every_cache_operation_uses_the_same_client(backend):
    cache.set("reuse", {"a": 1}, 30)
    first = backend.client.get_client(write=True)
    assert cache.get("reuse") == {"a": 1}
    assert cache.add("reuse-2", 2, 30) is True
    cache.delete("reuse")
    assert backend.client.get_client("reuse") is first
    assert backend.client.get_client(write=True) is first
    assert list(backend.client._clients.values()) == [first]


def test_keys_serializer_and_timeouts_stay_djangos(backend):
    cache.set("kept", {"when": "now"}, 30)
    cache.set("count", 7, 30)
    raw = backend.client.get_client()
    key = backend.make_and_validate_key("kept")
    assert key == "public::1:kept"  # django-tenants' key function: schema, prefix, version
    assert 0 < raw.ttl(key) <= 30
    # Integers stay plain (Django's serializer), so incr() works on them.
    assert raw.get(backend.make_and_validate_key("count")) == b"7"
    assert cache.incr("count") == 8


def test_a_pipeline_answers_like_single_operations_in_one_round_trip(backend, redis_sends):
    cache.set("taken", "yes", 30)
    results = (
        pipeline()
        .add("taken", "no", timeout=30)
        .add("free", {"x": 1}, timeout=20)
        .get("free")
        .get("taken")
        .get("missing")
        .execute()
    )
    assert results == [False, True, {"x": 1}, "yes", None]
    assert len(redis_sends) == 2  # the set above, then the whole pipeline
    assert cache.get("free") == {"x": 1}
    assert 0 < backend.client.get_client().ttl(backend.make_and_validate_key("free")) <= 20


def test_a_pipeline_add_with_no_timeout_persists_and_zero_keeps_nothing(backend):
    assert pipeline().add("forever", 1, timeout=None).add("never", 1, timeout=0).execute() == [
        True,
        True,
    ]
    raw = backend.client.get_client()
    assert raw.ttl(backend.make_and_validate_key("forever")) == -1
    assert cache.get("never") is None


def test_a_pipeline_on_another_backend_runs_operations_one_by_one():
    from django.core.cache.backends.locmem import LocMemCache

    local = LocMemCache("test-pipeline", {})
    queued = pipeline(local)
    assert type(queued) is CachePipeline
    assert queued.add("k", 1, timeout=30).add("k", 2, timeout=30).get("k").execute() == [
        True,
        False,
        1,
    ]
