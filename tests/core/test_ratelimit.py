"""The fixed-window limiter over both stores."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.core import ratelimit
from app.core.store import KeyValueStore, MemoryStore, RedisStore
from tests.fixtures import services


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[KeyValueStore]:
    if request.param == "memory":
        memory = MemoryStore()
        yield memory
        await memory.close()
        return
    request.getfixturevalue("redis_url")
    services.flush_redis()
    redis_store = RedisStore(services.REDIS_URL, prefix="test-ratelimit:")
    yield redis_store
    await redis_store.close()


async def test_allows_up_to_the_limit_then_raises_429(store: KeyValueStore) -> None:
    limit = ratelimit.Limit(attempts=3, window_seconds=30)
    for _ in range(3):
        await ratelimit.hit(store, bucket="login:ip", key="1.2.3.4", limit=limit)
    with pytest.raises(ratelimit.RateLimitExceeded) as caught:
        await ratelimit.hit(store, bucket="login:ip", key="1.2.3.4", limit=limit)
    assert caught.value.status_code == 429
    assert caught.value.detail == "TOO_MANY_REQUESTS"
    assert 1 <= int(caught.value.headers["Retry-After"]) <= 30


async def test_keys_and_buckets_count_apart(store: KeyValueStore) -> None:
    limit = ratelimit.Limit(attempts=1, window_seconds=30)
    await ratelimit.hit(store, bucket="login:ip", key="a", limit=limit)
    await ratelimit.hit(store, bucket="login:ip", key="b", limit=limit)
    await ratelimit.hit(store, bucket="register:ip", key="a", limit=limit)
    with pytest.raises(ratelimit.RateLimitExceeded):
        await ratelimit.hit(store, bucket="login:ip", key="a", limit=limit)


async def test_the_window_ends(store: KeyValueStore) -> None:
    limit = ratelimit.Limit(attempts=1, window_seconds=1)
    await ratelimit.hit(store, bucket="b", key="k", limit=limit)
    with pytest.raises(ratelimit.RateLimitExceeded):
        await ratelimit.hit(store, bucket="b", key="k", limit=limit)
    await store.delete(f"{ratelimit.KEY_PREFIX}b:k")  # as the window's expiry does
    await ratelimit.hit(store, bucket="b", key="k", limit=limit)


async def test_zero_attempts_means_no_limit(store: KeyValueStore) -> None:
    limit = ratelimit.Limit(attempts=0, window_seconds=30)
    for _ in range(5):
        await ratelimit.hit(store, bucket="b", key="k", limit=limit)
    assert await store.get(f"{ratelimit.KEY_PREFIX}b:k") is None


async def test_a_store_outage_lets_requests_through(caplog: pytest.LogCaptureFixture) -> None:
    class DownStore(MemoryStore):
        async def hit(self, key: str, *, window_seconds: int) -> tuple[int, int]:
            raise RedisConnectionError("down")

    limit = ratelimit.Limit(attempts=1, window_seconds=30)
    for _ in range(3):
        await ratelimit.hit(DownStore(), bucket="login:ip", key="k", limit=limit)
    assert "not checked" in caplog.text


def test_hashed_keys_hide_the_value_and_have_a_fixed_length() -> None:
    key = ratelimit.hashed("ada@example.com")
    assert "ada" not in key
    assert len(key) == len(ratelimit.hashed("x" * 10_000)) == 32
    assert key == ratelimit.hashed("ada@example.com")
