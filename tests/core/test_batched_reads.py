"""Reads asked in one turn of the event loop go to Redis as one MGET (app/platform/
batched_reads.py), each reader gets its own key's value, a write that finished before a
read was asked is always seen, and a failure or a cancelled reader is each reader's own."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Sequence

import pytest
import redis.asyncio as redis_asyncio

from app.platform.batched_reads import BatchedReads
from app.platform.store import STORE_ERRORS, RedisStore


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    made = RedisStore(redis_url, prefix=f"batch-{secrets.token_hex(4)}:")
    try:
        yield made
    finally:
        await made.close()


def _counting(store: RedisStore) -> list[list[str]]:
    """Every MGET the store's reads send, by its keys."""
    sent: list[list[str]] = []
    fetch = store.client.mget

    async def counted(keys: Sequence[str]) -> Sequence[bytes | None]:
        sent.append(list(keys))
        return await fetch(keys)

    store._reads = BatchedReads(counted)  # pylint: disable=protected-access
    return sent


async def test_reads_of_one_turn_are_one_mget_and_each_gets_its_own(store: RedisStore) -> None:
    sent = _counting(store)
    for n in range(10):
        await store.set(f"k{n}", f"v{n}")
    keys = [f"k{n % 12}" for n in range(60)]  # repeats, and two keys that do not exist
    values = await asyncio.gather(*(store.get(key) for key in keys))
    assert values == [f"v{n % 12}".encode() if n % 12 < 10 else None for n in range(60)]
    assert len(sent) == 1
    assert sorted(sent[0]) == sorted(store.prefix + f"k{n}" for n in range(12))


async def test_a_write_before_a_read_is_seen_and_each_turn_sends(store: RedisStore) -> None:
    sent = _counting(store)
    for n in range(5):
        await store.set("session", f"token-{n}")
        assert await store.get("session") == f"token-{n}".encode()
    assert len(sent) == 5


async def test_a_write_by_another_client_between_turns_is_seen(
    store: RedisStore, redis_url: str
) -> None:
    writer = redis_asyncio.Redis.from_url(redis_url)
    try:
        first = store.get("user")
        await writer.set(store.prefix + "user", b"tombstone")
        # A read asked after the write finished, even in the turn the first was asked.
        second = await store.get("user")
        assert await first in (None, b"tombstone")
        assert second == b"tombstone"
    finally:
        await writer.aclose()


async def test_a_failure_reaches_every_reader_and_the_next_turn_recovers() -> None:
    calls = 0

    async def flaky(keys: Sequence[str]) -> Sequence[bytes | None]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("Redis went away")
        return [key.encode() for key in keys]

    reads = BatchedReads(flaky)
    failed = await asyncio.gather(*(reads.get(f"k{n}") for n in range(5)), return_exceptions=True)
    assert all(isinstance(result, ConnectionError) for result in failed)
    assert all(isinstance(result, STORE_ERRORS) for result in failed)
    assert await asyncio.gather(reads.get("a"), reads.get("b")) == [b"a", b"b"]
    assert calls == 2


async def test_a_cancelled_reader_leaves_the_others_their_answers() -> None:
    release = asyncio.Event()

    async def slow(keys: Sequence[str]) -> Sequence[bytes | None]:
        await release.wait()
        return [key.encode() for key in keys]

    reads = BatchedReads(slow)
    readers = [asyncio.ensure_future(reads.get(f"k{n}")) for n in range(3)]
    await asyncio.sleep(0)
    readers[1].cancel()
    release.set()
    results = await asyncio.gather(*readers, return_exceptions=True)
    assert results[0] == b"k0"
    assert isinstance(results[1], asyncio.CancelledError)
    assert results[2] == b"k2"
    await reads.close()


async def test_the_store_closes_after_the_reads_it_sent(store: RedisStore) -> None:
    await store.set("last", "value")
    pending = store.get("last")
    await asyncio.sleep(0)  # sent, not yet answered
    await store.close()
    assert await pending == b"value"
