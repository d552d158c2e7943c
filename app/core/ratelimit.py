"""Fixed-window rate limits shared by every worker and host through the store.

A limit counts attempts per window under one key (a client IP, a hashed email…); the
attempt past the limit answers 429 `{"detail": "TOO_MANY_REQUESTS"}` with Retry-After.
When the store does not answer, requests go through (logged): a Redis outage must not lock
everyone out, and the limits are a brake on guessing, not the only defence.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from fastapi import HTTPException, status
from redis.exceptions import RedisError

from app.core.store import KeyValueStore

logger = logging.getLogger(__name__)

TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
KEY_PREFIX = "ratelimit:"


class RateLimitExceeded(HTTPException):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=TOO_MANY_REQUESTS,
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    """At most `attempts` per `window_seconds`; 0 attempts turns the limit off."""

    attempts: int
    window_seconds: int

    @property
    def enabled(self) -> bool:
        return self.attempts > 0


def hashed(value: str) -> str:
    """A fixed-length key part that keeps emails and other personal data out of the store."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


async def hit(store: KeyValueStore, *, bucket: str, key: str, limit: Limit) -> None:
    """Counts one attempt against `limit` under bucket/key; raises RateLimitExceeded past it."""
    if not limit.enabled:
        return
    try:
        count, retry_after = await store.hit(
            f"{KEY_PREFIX}{bucket}:{key}", window_seconds=limit.window_seconds
        )
    except (RedisError, OSError):
        logger.warning("rate limit %s not checked: the store did not answer", bucket)
        return
    if count > limit.attempts:
        raise RateLimitExceeded(retry_after)
