"""One-time values in the store (SMS code digests), in-process and in Redis: a right guess
spends one; wrong guesses close it to their guesser, and capped ones past the ceiling to
every capped guesser; of many concurrent right guesses one wins, and concurrent wrong ones
never pass the ceiling."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from app.platform.store import Guess, KeyValueStore, MemoryStore, RedisStore


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[KeyValueStore]:
    if request.param == "memory":
        kept: KeyValueStore = MemoryStore()
    else:
        kept = RedisStore(request.getfixturevalue("redis_url"), prefix=f"t-{uuid.uuid4().hex}:")
    yield kept
    await kept.close()


ONE = Guess(guesser="203.0.113.1", max_misses=3)
TWO = Guess(guesser="2001:db8:1:2::/64", max_misses=3)


async def test_a_right_guess_spends_the_value_once(store: KeyValueStore) -> None:
    await store.set_one_time("k", "digest", ttl_seconds=60)
    assert await store.get_one_time("k") == "digest"
    assert await store.spend_one_time(["k"], "digest", guess=ONE)
    assert await store.get_one_time("k") is None
    assert not await store.spend_one_time(["k"], "digest", guess=ONE)


async def test_a_guessers_last_allowed_miss_closes_the_value_to_it_alone(
    store: KeyValueStore,
) -> None:
    await store.set_one_time("k", "digest", ttl_seconds=60)
    assert not await store.spend_one_time(["k"], "wrong-1", guess=ONE)
    assert not await store.spend_one_time(["k"], "wrong-2", guess=ONE)
    assert not await store.spend_one_time(["k"], "wrong-3", guess=ONE)
    assert not await store.spend_one_time(["k"], "digest", guess=ONE)  # dead for ONE
    assert await store.spend_one_time(["k"], "digest", guess=TWO)  # alive for TWO
    assert await store.get_one_time("k") is None


async def test_past_the_ceiling_the_value_is_closed_to_capped_guessers_only(
    store: KeyValueStore,
) -> None:
    await store.set_one_time("k", "digest", ttl_seconds=60)
    for n in range(4):
        guess = Guess(guesser=f"203.0.113.{n}", max_misses=1, ceiling=4)
        assert not await store.spend_one_time(["k"], "wrong", guess=guess)
    fresh = Guess(guesser="203.0.113.99", max_misses=5, ceiling=4)
    assert not await store.spend_one_time(["k"], "digest", guess=fresh)
    owner = Guess(guesser="198.51.100.7", max_misses=5, ceiling=4, capped=False)
    assert await store.spend_one_time(["k"], "digest", guess=owner)


async def test_a_guess_spends_whichever_value_it_matches_and_misses_count_on_each(
    store: KeyValueStore,
) -> None:
    await store.set_one_time("a", "first", ttl_seconds=60)
    await store.set_one_time("b", "second", ttl_seconds=60)
    one_miss = Guess(guesser="x", max_misses=1)
    assert await store.spend_one_time(["a", "b"], "second", guess=one_miss)
    assert await store.get_one_time("a") == "first"  # a right guess is no miss elsewhere
    await store.set_one_time("b", "second", ttl_seconds=60)
    assert not await store.spend_one_time(["a", "b"], "wrong", guess=one_miss)
    for value in ("first", "second"):  # the miss counted on both: closed to x
        assert not await store.spend_one_time(["a", "b"], value, guess=one_miss)
    assert await store.spend_one_time(["a", "b"], "second", guess=Guess("y", max_misses=1))


async def test_a_new_value_forgets_the_misses_of_the_old(store: KeyValueStore) -> None:
    await store.set_one_time("k", "old", ttl_seconds=60)
    assert not await store.spend_one_time(["k"], "wrong", guess=Guess("a", max_misses=2))
    await store.set_one_time("k", "new", ttl_seconds=60)
    assert not await store.spend_one_time(["k"], "wrong", guess=Guess("a", max_misses=2))
    assert await store.spend_one_time(["k"], "new", guess=Guess("a", max_misses=2))


async def test_a_value_expires(store: KeyValueStore) -> None:
    await store.set_one_time("k", "digest", ttl_seconds=0.05)
    await asyncio.sleep(0.1)
    assert await store.get_one_time("k") is None
    assert not await store.spend_one_time(["k"], "digest", guess=ONE)


async def test_of_concurrent_right_guesses_exactly_one_wins(store: KeyValueStore) -> None:
    for round_ in range(5):
        key = f"race-{round_}"
        await store.set_one_time(key, "digest", ttl_seconds=60)
        results = await asyncio.gather(
            *(store.spend_one_time([key], "digest", guess=ONE) for _ in range(20))
        )
        assert results.count(True) == 1


async def test_concurrent_guesses_never_pass_the_ceiling_and_one_right_one_wins(
    store: KeyValueStore, request: pytest.FixtureRequest
) -> None:
    """Wrong guesses from many addresses and right ones race, through two clients as from
    two workers (in Redis): the ceiling (6 misses) is never passed, and the right value
    is taken once at most, and not at all once the ceiling closed it."""
    if isinstance(store, RedisStore):
        other: KeyValueStore = RedisStore(request.getfixturevalue("redis_url"), prefix=store.prefix)
    else:
        other = store
    ceiling = 6
    try:
        for round_ in range(10):
            key = f"ceiling-{round_}"
            await store.set_one_time(key, "digest", ttl_seconds=60)
            guesses = [
                (store if n % 2 else other).spend_one_time(
                    [key], "wrong", guess=Guess(f"10.0.{round_}.{n}", max_misses=2, ceiling=ceiling)
                )
                for n in range(12)
            ]
            for n in range(6):
                guesses.insert(
                    2 * n + round_ % 3 * 4,
                    (other if n % 2 else store).spend_one_time(
                        [key],
                        "digest",
                        guess=Guess(f"10.1.{round_}.{n}", max_misses=2, ceiling=ceiling),
                    ),
                )
            results = await asyncio.gather(*guesses)
            assert results.count(True) <= 1
            misses = await _capped_misses(store, key)
            if results.count(True) == 0:
                assert misses == ceiling  # closed by the ceiling before a right guess came
            else:
                assert misses <= ceiling
            # Nothing passes a closed or spent value, not even the right one.
            late = Guess("10.2.0.1", max_misses=2, ceiling=ceiling)
            assert not await store.spend_one_time([key], "digest", guess=late)
            assert await _capped_misses(store, key) == misses
    finally:
        if other is not store:
            await other.close()


async def _capped_misses(store: KeyValueStore, key: str) -> int:
    """The capped misses counted on a value (0 once it is gone)."""
    if isinstance(store, RedisStore):
        raw = await store.client.hget(store.prefix + key, "m")
        return int(raw or 0)
    assert isinstance(store, MemoryStore)
    item = store._one_time.get(key)  # pylint: disable=protected-access  # the count itself
    return item.misses if item else 0
