"""Passwords: the policy, the hasher and its limit per worker, and the mailed tokens bound
to an account (verification to its email, reset to its current password hash)."""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from fastapi_users import exceptions
from fastapi_users.jwt import generate_jwt
from fastapi_users.password import PasswordHelper
from pwdlib import PasswordHash

from app.auth.models import User
from app.users.adapter import normalize_email
from app.users.argon2_pages import PagedArgon2Hasher
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
    PasswordHash((PagedArgon2Hasher(memory_cost=19_456, time_cost=2, parallelism=1),))
)
# Hashes at once per worker (Settings.hash_threads, set by `use_hash_threads` at start-up):
# the host's cores shared out among its workers. More only queue for the same cores and
# hold more memory (19 MiB each while it runs); fewer leave cores idle through a login
# burst. Argon2 releases the GIL, so each runs on a core of its own beside the event loop.


# Hashes handed to the threads ahead of the one each is running: a thread that finishes
# starts the next at once, not once the event loop (busy with every other request) has
# resumed the finished caller and woken the next waiter, which left it idle meanwhile.
QUEUED_PER_THREAD = 1


class _HashSlots:
    """The process's hashing threads: a pool of `threads`, and per event loop a semaphore
    of `threads` running plus QUEUED_PER_THREAD queued each, so requests wait first come,
    first served. One that gave up (a client gone) does not start a hash: waiting at the
    semaphore it takes none, and queued in the pool it is cancelled (it runs only if a
    thread took it up in the moment before the cancellation got there).
    Threads of their own, not the loop's default pool: each keeps its memory arena, so
    the process holds `threads` Argon2 blocks (19 MiB each) at most, not one per thread
    that ever hashed."""

    def __init__(self) -> None:
        self.threads = 1
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="password-hash")
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        slots = self._by_loop.get(loop)
        if slots is None:
            slots = self._by_loop[loop] = asyncio.Semaphore(self.threads * (1 + QUEUED_PER_THREAD))
        async with slots:
            return await loop.run_in_executor(self._pool, functools.partial(func, *args))

    def resize(self, threads: int) -> None:
        old, self._pool = (
            self._pool,
            ThreadPoolExecutor(max_workers=threads, thread_name_prefix="password-hash"),
        )
        old.shutdown(wait=False)
        self.threads = threads
        self._by_loop.clear()


_HASH_SLOTS = _HashSlots()


def use_hash_threads(threads: int) -> None:
    """How many hashes this process runs at once from now on."""
    _HASH_SLOTS.resize(threads)


def hash_threads() -> int:
    return _HASH_SLOTS.threads


async def off_loop(func: Callable[..., T], *args: Any) -> T:
    """Runs a password hash on one of the process's hashing threads, at most
    `hash_threads()` at a time per loop; the others wait their turn first come, first served."""
    return await _HASH_SLOTS.run(func, *args)


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
