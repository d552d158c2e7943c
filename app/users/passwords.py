"""Passwords: the policy, the hasher and its limit per worker, and the mailed tokens bound
to an account (verification to its email, reset to its current password hash)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi_users import exceptions
from fastapi_users.jwt import generate_jwt
from fastapi_users.password import PasswordHelper
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.auth.models import User
from app.users.adapter import normalize_email
from settings import Settings

T = TypeVar("T")

MIN_PASSWORD_LENGTH = 8
# fastapi-users' token audiences: tokens made here and by its manager are interchangeable.
VERIFY_AUDIENCE = "fastapi-users:verify"
RESET_AUDIENCE = "fastapi-users:reset"

# Argon2id at OWASP's recommended cost (19 MiB, 2 passes, 1 lane): tens of milliseconds
# on one core. The library default (64 MiB, 4 lanes) held 64 MiB per login in flight and
# ran four threads per hash. Stored hashes of other parameters still verify and are
# rehashed at the next login.
PASSWORD_HELPER = PasswordHelper(
    PasswordHash((Argon2Hasher(memory_cost=19_456, time_cost=2, parallelism=1),))
)
# Hashes at once per worker: more only queue for the same cores and hold more memory
# (19 MiB each while it runs). One per worker keeps every core busy when there is a worker
# per core (WEB_CONCURRENCY), as in production; two per worker held more memory through a
# login burst for no more logins a second (docs/performance.md).
HASH_CONCURRENCY = 1
_HASH_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


async def off_loop(func: Callable[..., T], *args: Any) -> T:
    """Runs a password hash in a thread, at most HASH_CONCURRENCY at a time per loop."""
    loop = asyncio.get_running_loop()
    slots = _HASH_SLOTS.get(loop)
    if slots is None:
        slots = _HASH_SLOTS[loop] = asyncio.Semaphore(HASH_CONCURRENCY)
    async with slots:
        return await asyncio.to_thread(func, *args)


def check_policy(password: str, email: str | None) -> None:
    """InvalidPasswordException for a password the service does not accept."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise exceptions.InvalidPasswordException(
            reason=f"Password should be at least {MIN_PASSWORD_LENGTH} characters"
        )
    if email and normalize_email(password) == normalize_email(email):
        raise exceptions.InvalidPasswordException(reason="Password should not be the email")


def verify_token(user: User, settings: Settings) -> str:
    """fastapi-users' verification token for the user's current email."""
    return generate_jwt(
        {"sub": str(user.id), "email": user.email, "aud": VERIFY_AUDIENCE},
        settings.SECRET_KEY,
        settings.VERIFY_TOKEN_TTL_SECONDS,
    )


async def reset_password_token(user: User, settings: Settings) -> str:
    """fastapi-users' reset token, bound to the current password (a new one voids it)."""
    fingerprint = await off_loop(PASSWORD_HELPER.hash, user.hashed_password)
    return generate_jwt(
        {"sub": str(user.id), "password_fgpt": fingerprint, "aud": RESET_AUDIENCE},
        settings.SECRET_KEY,
        settings.RESET_PASSWORD_TOKEN_TTL_SECONDS,
    )
