"""One-time values in the store (SMS code digests), in-process and in Redis: a right guess
spends one, wrong guesses destroy it, and of many concurrent right guesses one wins."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from app.platform.store import KeyValueStore, MemoryStore, RedisStore


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[KeyValueStore]:
    if request.param == "memory":
        kept: KeyValueStore = MemoryStore()
    else:
        kept = RedisStore(request.getfixturevalue("redis_url"), prefix=f"t-{uuid.uuid4().hex}:")
    yield kept
    await kept.close()


async def test_a_right_guess_spends_the_value_once(store: KeyValueStore) -> None:
    await store.set_one_time("k", "digest", ttl_seconds=60)
    assert await store.get_one_time("k") == "digest"
    assert await store.spend_one_time("k", "digest", max_misses=3)
    assert await store.get_one_time("k") is None
    assert not await store.spend_one_time("k", "digest", max_misses=3)


async def test_the_last_allowed_miss_destroys_the_value(store: KeyValueStore) -> None:
    await store.set_one_time("k", "digest", ttl_seconds=60)
    assert not await store.spend_one_time("k", "wrong-1", max_misses=3)
    assert not await store.spend_one_time("k", "wrong-2", max_misses=3)
    assert await store.get_one_time("k") == "digest"
    assert not await store.spend_one_time("k", "wrong-3", max_misses=3)
    assert await store.get_one_time("k") is None
    assert not await store.spend_one_time("k", "digest", max_misses=3)


async def test_a_new_value_forgets_the_misses_of_the_old(store: KeyValueStore) -> None:
    await store.set_one_time("k", "old", ttl_seconds=60)
    assert not await store.spend_one_time("k", "wrong", max_misses=2)
    await store.set_one_time("k", "new", ttl_seconds=60)
    assert not await store.spend_one_time("k", "wrong", max_misses=2)
    assert await store.spend_one_time("k", "new", max_misses=2)


async def test_a_value_expires(store: KeyValueStore) -> None:
    await store.set_one_time("k", "digest", ttl_seconds=0.05)
    await asyncio.sleep(0.1)
    assert await store.get_one_time("k") is None
    assert not await store.spend_one_time("k", "digest", max_misses=3)


async def test_of_concurrent_right_guesses_exactly_one_wins(store: KeyValueStore) -> None:
    for round_ in range(5):
        key = f"race-{round_}"
        await store.set_one_time(key, "digest", ttl_seconds=60)
        results = await asyncio.gather(
            *(store.spend_one_time(key, "digest", max_misses=3) for _ in range(20))
        )
        assert results.count(True) == 1
