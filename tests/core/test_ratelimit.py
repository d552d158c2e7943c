"""The fixed-window limiter over both stores."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.platform import ratelimit
from app.platform import store as store_module
from app.platform.store import Hit, KeyValueStore, MemoryStore, RedisStore
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


class DownStore(MemoryStore):
    """A store whose every call fails, as Redis does while it is down."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True
        self.calls = 0

    async def hit(self, key: str, *, window_seconds: int) -> tuple[int, int]:
        self.calls += 1
        if self.down:
            raise RedisConnectionError("down")
        return await super().hit(key, window_seconds=window_seconds)


async def test_a_store_outage_counts_in_process(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ratelimit, "RETRY_STORE_AFTER_SECONDS", 60.0)
    store = DownStore()
    limit = ratelimit.Limit(attempts=2, window_seconds=30)
    for _ in range(2):
        await ratelimit.hit(store, bucket="login:ip", key="k", limit=limit)
    with pytest.raises(ratelimit.RateLimitExceeded):
        await ratelimit.hit(store, bucket="login:ip", key="k", limit=limit)
    assert "count in this process" in caplog.text
    # Tried once, then left alone until the retry period ends.
    assert store.calls == 1


async def test_the_store_takes_over_again_when_it_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ratelimit, "RETRY_STORE_AFTER_SECONDS", 0.0)
    store = DownStore()
    limit = ratelimit.Limit(attempts=1, window_seconds=30)
    await ratelimit.hit(store, bucket="b", key="k", limit=limit)  # in process
    store.down = False
    await ratelimit.hit(store, bucket="b", key="k", limit=limit)  # the store's first
    with pytest.raises(ratelimit.RateLimitExceeded):
        await ratelimit.hit(store, bucket="b", key="k", limit=limit)


async def test_each_lock_lasts_twice_the_last_up_to_the_maximum(store: KeyValueStore) -> None:
    limit = ratelimit.Limit(attempts=1, window_seconds=10)
    waits = []
    for _ in range(4):
        for _ in range(2):
            await ratelimit.hit_with_backoff(
                store, bucket="b", key="k", limit=limit, max_lock_seconds=35
            )
        with pytest.raises(ratelimit.RateLimitExceeded) as locked:
            await ratelimit.check_lock(store, bucket="b", key="k")
        waits.append(locked.value.retry_after)
        await store.delete(f"{ratelimit.KEY_PREFIX}b:lock:k")  # the lock runs out
    assert waits == [10, 20, 35, 35]
    await ratelimit.check_lock(store, bucket="b", key="k")


def test_hashed_keys_hide_the_value_and_have_a_fixed_length() -> None:
    key = ratelimit.hashed("ada@example.com")
    assert "ada" not in key
    assert len(key) == len(ratelimit.hashed("x" * 10_000)) == 32
    assert key == ratelimit.hashed("ada@example.com")


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        (None, "unknown"),
    ],
)
def test_an_ipv6_address_is_counted_by_its_64(ip: str | None, key: str) -> None:
    assert ratelimit.address_key(ip) == key


async def test_hit_all_stops_at_the_first_past_its_limit(store: KeyValueStore) -> None:
    one, two = ratelimit.Limit(attempts=1, window_seconds=30), ratelimit.Limit(3, 30)
    counted = [ratelimit.Counted("a", "k", one), ratelimit.Counted("b", "k", two)]
    await ratelimit.flag(store, bucket="f", key="k", ttl_seconds=30)
    reads = [ratelimit.flag_name("f", "k"), ratelimit.flag_name("f", "other")]
    assert await ratelimit.hit_all(store, counted, reads=reads) == [b"1", None]
    for _ in range(2):
        with pytest.raises(ratelimit.RateLimitExceeded) as refused:
            await ratelimit.hit_all(store, counted, reads=reads)
        assert 1 <= refused.value.retry_after <= 30
    # The second counter counted only the attempt the first let through.
    count, _ = await store.hit(ratelimit.counter_name("b", "k"), window_seconds=30)
    assert count == 2


async def test_hit_all_skips_a_limit_that_is_off(store: KeyValueStore) -> None:
    off = ratelimit.Limit(attempts=0, window_seconds=30)
    for _ in range(3):
        await ratelimit.hit_all(store, [ratelimit.Counted("b", "k", off)])
    assert await store.get(ratelimit.counter_name("b", "k")) is None


async def test_hit_if_counts_only_while_the_value_is_the_expected_one(
    store: KeyValueStore,
) -> None:
    hit = Hit("counter", window_seconds=30, attempts=5)
    assert await store.hit_if("check", b"token", hit) == (None, None)
    await store.set("check", b"token")
    assert await store.hit_if("check", b"token", hit) == (b"token", (1, 30))
    await store.set("check", b"other")
    assert await store.hit_if("check", b"token", hit) == (b"other", None)
    count, _ = await store.hit("counter", window_seconds=30)
    assert count == 2


async def test_a_new_window_says_its_whole_length_in_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A clock reading where (now + 30) - now comes out a hair over 30 in floating point:
    # the retry answer must still be 30 seconds, not 31.
    now = 1001.11
    assert (now + 30) - now > 30
    monkeypatch.setattr(store_module.time, "monotonic", lambda: now)
    assert await MemoryStore().hit("fresh", window_seconds=30) == (1, 30)
