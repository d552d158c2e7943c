"""Shared state for rate limits, token revocation, caches and one-time codes.

`RedisStore` is shared by every worker and host; `MemoryStore` is the in-process fallback
used when REDIS_URL is empty (one process only: fine for development and tests).

A one-time value (an SMS code's digest) is spent by the first matching guess. Wrong guesses
are counted per guesser (a client address) and, for the guessers the caller says to cap,
all together: a guesser past its own misses, or a capped one past the value's ceiling, is
refused even the right value, while the other guessers go on. Each guess is checked and
counted in one atomic step (a Lua script in Redis; in-process, no await between the read
and the write), so of concurrent right guesses exactly one wins and no ceiling is passed.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Protocol

import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

from app.platform import store_scripts
from app.platform.batched_reads import BatchedReads

# What a store that is down, restarting or unreachable raises: callers that can do
# without it (caches, marks, counts) catch these and go on.
STORE_ERRORS = (RedisError, OSError)


class KeyValueStore(Protocol):
    """The few operations the service needs from Redis."""

    name: str

    async def get(self, key: str) -> bytes | None: ...

    async def get_many(self, keys: list[str]) -> list[bytes | None]:
        """The values of `keys`, in order, in one round trip."""
        ...

    async def set(
        self, key: str, value: bytes | str, *, ttl_seconds: float | None = None
    ) -> None: ...

    async def add(self, key: str, value: bytes | str, *, ttl_seconds: float) -> bool:
        """Sets `key` only if it is absent; whether it was set."""
        ...

    async def delete(self, *keys: str) -> int: ...

    async def exists(self, key: str) -> bool: ...

    async def hit(self, key: str, *, window_seconds: int) -> tuple[int, int]:
        """Counts one event in a fixed window: (events in the window, seconds until it ends)."""
        ...

    async def hit_many(
        self, hits: Sequence[Hit], reads: Sequence[str] = ()
    ) -> tuple[tuple[int, int] | None, list[bytes | None]]:
        """`hit` on each of `hits` in turn, in one atomic step, stopping at the first past
        its attempts: (its count, seconds until its window ends) and no values. When none
        is past, None and the values of `reads`, in order."""
        ...

    async def hit_if(
        self, check: str, expected: bytes, hit: Hit
    ) -> tuple[bytes | None, tuple[int, int] | None]:
        """The value under `check`; only when it is `expected`, `hit` on `hit.key` too, in
        the same atomic step: (the value, (the count, seconds until its window ends) or
        None when nothing was counted)."""
        ...

    async def tally(self, key: str, field: str) -> None:
        """Adds one to the lasting counter `field` of the counter set `key`."""
        ...

    async def tallies(self, key: str) -> dict[str, int]:
        """Every counter of the set `key` (empty when none was ever added to)."""
        ...

    async def set_one_time(self, key: str, value: str, *, ttl_seconds: float) -> None:
        """Stores a one-time value under `key` (replacing any, its misses forgotten)."""
        ...

    async def get_one_time(self, key: str) -> str | None:
        """The live one-time value under `key`, not spending it."""
        ...

    async def spend_one_time(self, keys: Sequence[str], candidate: str, *, guess: Guess) -> bool:
        """True, and that value is gone, when `candidate` is the value under one of `keys`
        still open to `guess.guesser`. Otherwise a miss is counted on each value open to
        it: against the guesser's own `max_misses` and, when `guess.capped`, against the
        value's `ceiling` of capped misses. A value past either stays for the others."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Hit:
    """One event to count under `key`, in windows of `window_seconds`; more than
    `attempts` in a window is past its limit."""

    key: str
    window_seconds: int
    attempts: int


@dataclass(frozen=True)
class Guess:
    """Who guesses a one-time value, and how far they may go: `max_misses` wrong guesses of
    their own per value; when `capped`, their misses also count toward the value's
    `ceiling` (0: none), past which no capped guesser may try it."""

    guesser: str
    max_misses: int
    ceiling: int = 0
    capped: bool = True


@dataclass
class _OneTime:
    """An in-process one-time value and its misses."""

    value: str
    expires: float
    misses: int = 0  # capped misses, toward the ceiling
    by_guesser: dict[str, int] = dataclass_field(default_factory=dict)

    def open_to(self, guess: Guess) -> bool:
        if self.by_guesser.get(guess.guesser, 0) >= guess.max_misses:
            return False
        return not (guess.capped and 0 < guess.ceiling <= self.misses)


class MemoryStore:
    """A dict with expiry; the in-process stand-in for Redis.

    No operation awaits between what it reads and what it writes, so each is atomic on the
    event loop, as a Redis script is atomic on the server; the concurrency tests of
    tests/core/test_one_time.py fail if one ever does."""

    name = "memory"

    def __init__(self) -> None:
        self._data: dict[str, tuple[bytes, float | None]] = {}
        self._tallies: dict[str, dict[str, int]] = {}
        self._one_time: dict[str, _OneTime] = {}

    def _live(self, key: str) -> tuple[bytes, float | None] | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] is not None and item[1] <= time.monotonic():
            del self._data[key]
            return None
        return item

    async def get(self, key: str) -> bytes | None:
        item = self._live(key)
        return item[0] if item else None

    async def get_many(self, keys: list[str]) -> list[bytes | None]:
        return [await self.get(key) for key in keys]

    async def set(self, key: str, value: bytes | str, *, ttl_seconds: float | None = None) -> None:
        raw = value.encode() if isinstance(value, str) else value
        expires = time.monotonic() + ttl_seconds if ttl_seconds is not None else None
        self._data[key] = (raw, expires)
        if len(self._data) % 1024 == 0:
            self._prune()

    async def add(self, key: str, value: bytes | str, *, ttl_seconds: float) -> bool:
        if self._live(key) is not None:
            return False
        self._data[key] = (
            value.encode() if isinstance(value, str) else value,
            time.monotonic() + ttl_seconds,
        )
        return True

    async def delete(self, *keys: str) -> int:
        return sum(self._data.pop(key, None) is not None for key in keys)

    async def exists(self, key: str) -> bool:
        return self._live(key) is not None

    async def hit(self, key: str, *, window_seconds: int) -> tuple[int, int]:
        item = self._live(key)
        now = time.monotonic()
        if item is None:
            expires = now + window_seconds
            count = 1
        else:
            count = int(item[0]) + 1
            expires = item[1] if item[1] is not None else now + window_seconds
        self._data[key] = (str(count).encode(), expires)
        # (now + window) - now can come out a hair over the window in floating point.
        return count, max(1, math.ceil(expires - now - 1e-6))

    async def hit_many(
        self, hits: Sequence[Hit], reads: Sequence[str] = ()
    ) -> tuple[tuple[int, int] | None, list[bytes | None]]:
        for one in hits:
            count, retry_after = await self.hit(one.key, window_seconds=one.window_seconds)
            if count > one.attempts:
                return (count, retry_after), []
        return None, [await self.get(key) for key in reads]

    async def hit_if(
        self, check: str, expected: bytes, hit: Hit
    ) -> tuple[bytes | None, tuple[int, int] | None]:
        current = await self.get(check)
        if current != expected:
            return current, None
        return current, await self.hit(hit.key, window_seconds=hit.window_seconds)

    async def tally(self, key: str, field: str) -> None:
        counters = self._tallies.setdefault(key, {})
        counters[field] = counters.get(field, 0) + 1

    async def tallies(self, key: str) -> dict[str, int]:
        return dict(self._tallies.get(key, {}))

    def _live_one_time(self, key: str) -> _OneTime | None:
        item = self._one_time.get(key)
        if item is not None and item.expires <= time.monotonic():
            del self._one_time[key]
            return None
        return item

    async def set_one_time(self, key: str, value: str, *, ttl_seconds: float) -> None:
        self._one_time[key] = _OneTime(value=value, expires=time.monotonic() + ttl_seconds)
        if len(self._one_time) % 1024 == 0:
            for stale in [k for k in self._one_time if self._live_one_time(k) is None]:
                self._one_time.pop(stale, None)

    async def get_one_time(self, key: str) -> str | None:
        item = self._live_one_time(key)
        return item.value if item else None

    async def spend_one_time(self, keys: Sequence[str], candidate: str, *, guess: Guess) -> bool:
        open_items = []
        for key in keys:
            item = self._live_one_time(key)
            if item is None or not item.open_to(guess):
                continue
            if hmac.compare_digest(item.value.encode(), candidate.encode()):
                del self._one_time[key]
                return True
            open_items.append(item)
        for item in open_items:
            item.by_guesser[guess.guesser] = item.by_guesser.get(guess.guesser, 0) + 1
            item.misses += guess.capped
        return False

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._data.clear()
        self._one_time.clear()

    def _prune(self) -> None:
        now = time.monotonic()
        for key in [k for k, (_, exp) in self._data.items() if exp is not None and exp <= now]:
            del self._data[key]


class RedisStore:
    """Redis through redis-py's asyncio client, keys under one prefix."""

    name = "redis"

    def __init__(self, url: str, *, prefix: str = "", timeout_seconds: float = 2.0) -> None:
        self.prefix = prefix
        self.client = redis_asyncio.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            health_check_interval=30,
        )
        self._spend_script = self.client.register_script(store_scripts.SPEND_ONE_TIME)
        self._hit_script = self.client.register_script(store_scripts.HIT)
        self._hit_many_script = self.client.register_script(store_scripts.HIT_MANY)
        self._hit_if_script = self.client.register_script(store_scripts.HIT_IF)
        self._reads = BatchedReads(self.client.mget)

    def _key(self, key: str) -> str:
        return self.prefix + key

    async def get(self, key: str) -> bytes | None:  # one MGET per loop turn (batched_reads.py)
        return await self._reads.get(self._key(key))

    async def get_many(self, keys: list[str]) -> list[bytes | None]:
        if not keys:
            return []
        return list(await self.client.mget([self._key(k) for k in keys]))

    async def set(self, key: str, value: bytes | str, *, ttl_seconds: float | None = None) -> None:
        if ttl_seconds is None:
            await self.client.set(self._key(key), value)
        else:
            await self.client.set(self._key(key), value, px=max(1, int(ttl_seconds * 1000)))

    async def add(self, key: str, value: bytes | str, *, ttl_seconds: float) -> bool:
        return bool(
            await self.client.set(
                self._key(key), value, px=max(1, int(ttl_seconds * 1000)), nx=True
            )
        )

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        return int(await self.client.delete(*(self._key(k) for k in keys)))

    async def exists(self, key: str) -> bool:
        return bool(await self.client.exists(self._key(key)))

    async def hit(self, key: str, *, window_seconds: int) -> tuple[int, int]:
        count, ttl = await self._hit_script(keys=[self._key(key)], args=[window_seconds])
        return int(count), max(1, int(ttl))

    async def hit_many(
        self, hits: Sequence[Hit], reads: Sequence[str] = ()
    ) -> tuple[tuple[int, int] | None, list[bytes | None]]:
        args: list[int] = [len(hits)]
        for one in hits:
            args += (one.window_seconds, one.attempts)
        answer = await self._hit_many_script(
            keys=[self._key(one.key) for one in hits] + [self._key(key) for key in reads],
            args=args,
        )
        if answer[0]:
            return (int(answer[1]), max(1, int(answer[2]))), []
        return None, list(answer[3:])

    async def hit_if(
        self, check: str, expected: bytes, hit: Hit
    ) -> tuple[bytes | None, tuple[int, int] | None]:
        answer = await self._hit_if_script(
            keys=[self._key(check), self._key(hit.key)], args=[expected, hit.window_seconds]
        )
        if len(answer) == 1:
            return answer[0], None
        return answer[0], (int(answer[1]), max(1, int(answer[2])))

    async def tally(self, key: str, field: str) -> None:
        await self.client.hincrby(self._key(key), field, 1)

    async def tallies(self, key: str) -> dict[str, int]:
        raw = await self.client.hgetall(self._key(key))
        return {name.decode(): int(value) for name, value in raw.items()}

    async def set_one_time(self, key: str, value: str, *, ttl_seconds: float) -> None:
        full = self._key(key)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(full)
            pipe.hset(full, mapping={"v": value, "m": 0})
            pipe.pexpire(full, max(1, int(ttl_seconds * 1000)))
            await pipe.execute()

    async def get_one_time(self, key: str) -> str | None:
        value = await self.client.hget(self._key(key), "v")
        return value.decode() if value is not None else None

    async def spend_one_time(self, keys: Sequence[str], candidate: str, *, guess: Guess) -> bool:
        spent = await self._spend_script(
            keys=[self._key(key) for key in keys],
            args=[
                candidate,
                guess.guesser,
                guess.max_misses,
                guess.ceiling,
                int(guess.capped),
            ],
        )
        return bool(spent)

    async def ping(self) -> bool:
        return bool(await self.client.ping())

    async def close(self) -> None:
        await self._reads.close()
        await self.client.aclose()


def create_store(url: str, *, prefix: str) -> KeyValueStore:
    """Redis when a URL is configured, the in-process store otherwise."""
    if url:
        return RedisStore(url, prefix=prefix)
    return MemoryStore()
