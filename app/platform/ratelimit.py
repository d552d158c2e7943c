"""Fixed-window rate limits shared by every worker and host through the store.

A limit counts attempts per window under one key (a client IP, a hashed email…); the
attempt past the limit answers 429 `{"detail": "TOO_MANY_REQUESTS"}` with Retry-After.

When the store does not answer (Redis down), every limit keeps counting in this process
instead: each worker then allows up to the limit on its own, which bounds guessing at
limit x workers rather than not at all. Redis is tried again every few seconds; its counts
take over again when it answers.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from app.platform.breaker import StoreBreaker
from app.platform.errors import DomainError
from app.platform.store import STORE_ERRORS, Hit, KeyValueStore, MemoryStore

logger = logging.getLogger(__name__)

T = TypeVar("T")

TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
KEY_PREFIX = "ratelimit:"
# After the store failed, limits count in process for this long before it is tried again
# (so an outage costs one failed round trip per period, not one per request).
RETRY_STORE_AFTER_SECONDS = 5.0
# How long a lock's strikes are remembered: each lock within it lasts twice the last.
STRIKES_MEMORY_SECONDS = 86_400


class RateLimitExceeded(DomainError):
    """Past a limit: 429 with the seconds until the next attempt may pass."""

    status_code = 429
    detail = TOO_MANY_REQUESTS

    def __init__(self, retry_after: int) -> None:
        super().__init__(headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    """At most `attempts` per `window_seconds`; 0 attempts turns the limit off."""

    attempts: int
    window_seconds: int

    @property
    def enabled(self) -> bool:
        return self.attempts > 0

    @property
    def window(self) -> tuple[int, int]:
        """(window_seconds, attempts), as a store's `Hit` takes them."""
        return self.window_seconds, self.attempts


def hashed(value: str) -> str:
    """A fixed-length key part that keeps emails and other personal data out of the store."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# An IPv6 client usually holds a whole /64 (SLAAC, privacy addresses): it is one address.
IPV6_PREFIX_LENGTH = 64


def address_key(ip: str | None) -> str:
    """The key of a client address for per-address limits: an IPv4 address itself (an
    IPv4-mapped IPv6 one too), an IPv6 address by its /64; "unknown" without one."""
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX_LENGTH), strict=False))
    return str(address)


class _Fallback:
    """This process's stand-in for one shared store while it does not answer."""

    def __init__(self) -> None:
        self.memory = MemoryStore()
        self.breaker = StoreBreaker()


_FALLBACKS: weakref.WeakKeyDictionary[KeyValueStore, _Fallback] = weakref.WeakKeyDictionary()


def _fallback(store: KeyValueStore) -> _Fallback:
    fallback = _FALLBACKS.get(store)
    if fallback is None:
        fallback = _FALLBACKS[store] = _Fallback()
    return fallback


def store_available(store: KeyValueStore) -> bool:
    """Whether the limits count in the store now (not in process after a failure)."""
    return _fallback(store).breaker.available()


def store_failed(store: KeyValueStore, exc: BaseException) -> None:
    """The store failed a count made outside this module: count in process for a while."""
    _fallback(store).breaker.trip(RETRY_STORE_AFTER_SECONDS)
    logger.warning("rate limits count in this process: the store did not answer (%r)", exc)


async def _on_store(store: KeyValueStore, operation: Callable[[KeyValueStore], Awaitable[T]]) -> T:
    """Runs `operation` on the store, or on this process's memory while the store is down."""
    fallback = _fallback(store)
    if fallback.breaker.available():
        try:
            return await operation(store)
        except STORE_ERRORS as exc:
            store_failed(store, exc)
    return await operation(fallback.memory)


def counter_name(bucket: str, key: str) -> str:
    """The store key `hit` counts bucket/key under."""
    return f"{KEY_PREFIX}{bucket}:{key}"


def raise_past(counted: tuple[int, int], limit: Limit) -> None:
    """RateLimitExceeded when a store's (count, seconds left) is past `limit`."""
    count, retry_after = counted
    if count > limit.attempts:
        raise RateLimitExceeded(retry_after)


async def hit(store: KeyValueStore, *, bucket: str, key: str, limit: Limit) -> None:
    """Counts one attempt against `limit` under bucket/key; raises RateLimitExceeded past it."""
    if not limit.enabled:
        return
    name = counter_name(bucket, key)
    raise_past(
        await _on_store(store, lambda s: s.hit(name, window_seconds=limit.window_seconds)), limit
    )


@dataclass(frozen=True, slots=True)
class Counted:
    """One attempt for `hit_all` to count: under bucket/key, against `limit`."""

    bucket: str
    key: str
    limit: Limit


async def hit_all(
    store: KeyValueStore, counted: list[Counted], *, reads: list[str] | None = None
) -> list[bytes | None]:
    """`hit` for each of `counted` in turn, in one round trip to the store: the first past
    its limit raises RateLimitExceeded (the ones after it are not counted). Then, in the
    same round trip, the values under `reads` (names as `flag_name` and `lock_name` give)."""
    hits = [
        Hit(f"{KEY_PREFIX}{one.bucket}:{one.key}", one.limit.window_seconds, one.limit.attempts)
        for one in counted
        if one.limit.enabled
    ]
    names = [f"{KEY_PREFIX}{name}" for name in reads or ()]
    past, values = await _on_store(store, lambda s: s.hit_many(hits, names))
    if past is not None:
        raise RateLimitExceeded(past[1])
    return values


def flag_name(bucket: str, key: str) -> str:
    """What `flag` sets (set, its value is not None)."""
    return f"{bucket}:{key}"


def lock_name(bucket: str, key: str) -> str:
    """What `hit_with_backoff` locks bucket/key with (see `raise_if_locked`)."""
    return f"{bucket}:lock:{key}"


def raise_if_locked(raw: bytes | None) -> None:
    """RateLimitExceeded while the lock read under `lock_name` lasts."""
    if raw is None:
        return
    try:
        remaining = float(raw) - time.time()
    except ValueError:
        return
    if remaining > 0:
        raise RateLimitExceeded(math.ceil(remaining))


async def check_lock(store: KeyValueStore, *, bucket: str, key: str) -> None:
    """Raises RateLimitExceeded while bucket/key is locked by `hit_with_backoff`."""
    raise_if_locked(
        await _on_store(store, lambda s: s.get(f"{KEY_PREFIX}{lock_name(bucket, key)}"))
    )


async def hit_with_backoff(
    store: KeyValueStore, *, bucket: str, key: str, limit: Limit, max_lock_seconds: int
) -> None:
    """Counts one event; past `limit`, locks bucket/key (see `check_lock`) for one window,
    then two, four… for each lock within a day, at most `max_lock_seconds`."""
    if not limit.enabled:
        return
    counter = f"{KEY_PREFIX}{bucket}:{key}"
    count, _ = await _on_store(store, lambda s: s.hit(counter, window_seconds=limit.window_seconds))
    if count <= limit.attempts:
        return
    strikes, _ = await _on_store(
        store,
        lambda s: s.hit(
            f"{KEY_PREFIX}{bucket}:strikes:{key}", window_seconds=STRIKES_MEMORY_SECONDS
        ),
    )
    seconds = min(limit.window_seconds * 2 ** min(strikes - 1, 30), max_lock_seconds)
    until = repr(time.time() + seconds)  # in full: a rounded-up one would add a second

    async def lock(s: KeyValueStore) -> None:
        await s.set(f"{KEY_PREFIX}{lock_name(bucket, key)}", until, ttl_seconds=seconds)
        await s.delete(counter)  # counting starts afresh when the lock ends

    await _on_store(store, lock)
    logger.warning("rate limit %s: locked for %d s (strike %d)", bucket, seconds, strikes)


async def is_flagged(store: KeyValueStore, *, bucket: str, key: str) -> bool:
    return await _on_store(store, lambda s: s.exists(f"{KEY_PREFIX}{flag_name(bucket, key)}"))


async def flag(store: KeyValueStore, *, bucket: str, key: str, ttl_seconds: float) -> None:
    await _on_store(
        store,
        lambda s: s.set(f"{KEY_PREFIX}{flag_name(bucket, key)}", b"1", ttl_seconds=ttl_seconds),
    )
