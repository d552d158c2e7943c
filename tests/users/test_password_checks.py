"""Every route that checks a password is rate limited per user and per client address, and
every password hash runs off the event loop; a stolen access token alone cannot change the
account's email or password (API.md, PATCH /users/me and DELETE /users/me)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi_users.password import PasswordHelper

from app.auth.models import User
from settings import Settings
from tests.conftest import PASSWORD, unique_email
from tests.users.conftest import Outbox, bearer, login_tokens, me_status, register

LIMITS = {
    "RATE_LIMIT_PASSWORD_PER_USER": 2,
    "RATE_LIMIT_PASSWORD_PER_IP": 3,
}
NEW_PASSWORD = "a brand new password"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return LIMITS


def _from(ip: str, tokens: dict[str, str] | None = None) -> dict[str, str]:
    headers = {"X-Forwarded-For": ip}
    if tokens is not None:
        headers.update(bearer(tokens))
    return headers


async def _account(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    email = unique_email()
    assert (await register(client, email)).status_code == 201
    return email, await login_tokens(client, email)


async def _deregister(
    client: httpx.AsyncClient, tokens: dict[str, str], password: str, ip: str
) -> httpx.Response:
    return await client.request(
        "DELETE", "/api/v1/users/me", json={"password": password}, headers=_from(ip, tokens)
    )


async def _patch_me(
    client: httpx.AsyncClient, tokens: dict[str, str], body: dict[str, Any], ip: str = "192.0.2.1"
) -> httpx.Response:
    return await client.patch("/api/v1/users/me", json=body, headers=_from(ip, tokens))


def _is_429(response: httpx.Response) -> bool:
    return response.status_code == 429 and response.json() == {"detail": "TOO_MANY_REQUESTS"}


# --- rate limits -----------------------------------------------------------------------------


async def test_deregistration_password_guesses_are_limited_per_user(
    client: httpx.AsyncClient,
) -> None:
    email, tokens = await _account(client)
    for i in range(2):
        wrong = await _deregister(client, tokens, "wrong password", f"203.0.113.{i}")
        assert wrong.json() == {"detail": "INVALID_PASSWORD"}
    # From yet another address, and even with the right password: the account's checks are spent.
    assert _is_429(await _deregister(client, tokens, PASSWORD, "203.0.113.9"))
    assert await User.filter(email=email).exists()


async def test_password_checks_are_limited_per_address(client: httpx.AsyncClient) -> None:
    ip = "198.51.100.30"
    for _ in range(3):
        _, tokens = await _account(client)
        assert (await _deregister(client, tokens, "wrong password", ip)).status_code == 400
    _, tokens = await _account(client)
    assert _is_429(await _deregister(client, tokens, "wrong password", ip))
    assert (await _deregister(client, tokens, "wrong password", "198.51.100.31")).status_code == 400


async def test_patch_me_current_password_guesses_are_limited(client: httpx.AsyncClient) -> None:
    _, tokens = await _account(client)
    for i in range(2):
        response = await _patch_me(
            client, tokens, {"password": NEW_PASSWORD, "current_password": "wrong"}, f"192.0.2.{i}"
        )
        assert response.json() == {"detail": "INVALID_PASSWORD"}
    assert _is_429(
        await _patch_me(client, tokens, {"password": NEW_PASSWORD, "current_password": PASSWORD})
    )


async def test_password_resets_are_limited_per_user(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    email, _ = await _account(client)
    await client.post("/api/v1/auth/forgot-password", json={"email": email})
    token = outbox.token(email, "reset")
    for i in range(2):
        short = await client.post(
            "/api/v1/auth/reset-password",
            json={"token": token, "password": "short"},
            headers=_from(f"203.0.113.{40 + i}"),
        )
        assert short.status_code == 400
    late = await client.post(
        "/api/v1/auth/reset-password",
        json={"token": token, "password": NEW_PASSWORD},
        headers=_from("203.0.113.49"),
    )
    assert _is_429(late)


# --- PATCH /users/me needs the current password ------------------------------------------


@pytest.mark.parametrize(
    "change", [{"email": "new-address@example.com"}, {"password": NEW_PASSWORD}]
)
@pytest.mark.parametrize("current", [None, "wrong password", ""])
async def test_patch_me_email_or_password_without_the_current_password_is_400(
    client: httpx.AsyncClient, change: dict[str, str], current: str | None
) -> None:
    email, tokens = await _account(client)
    body: dict[str, Any] = dict(change)
    if current is not None:
        body["current_password"] = current
    response = await _patch_me(client, tokens, body)
    assert response.status_code == 400
    assert response.json() == {"detail": "INVALID_PASSWORD"}
    stored = await User.get(email=email)
    assert (await login_tokens(client, email))["access_token"]
    assert stored.email == email


async def test_patch_me_name_alone_needs_no_password(client: httpx.AsyncClient) -> None:
    email, tokens = await _account(client)
    same_email = await _patch_me(client, tokens, {"display_name": "Ada", "email": email.upper()})
    assert same_email.status_code == 200, same_email.text
    assert same_email.json()["display_name"] == "Ada"


async def test_email_change_ends_other_sessions_and_clears_verified(
    client: httpx.AsyncClient,
) -> None:
    email, tokens = await _account(client)
    other = await login_tokens(client, email)
    await User.filter(email=email).update(is_verified=True)
    new_email = unique_email("moved")
    response = await _patch_me(client, tokens, {"email": new_email, "current_password": PASSWORD})
    assert response.status_code == 200, response.text
    assert response.json()["email"] == new_email
    assert response.json()["is_verified"] is False
    assert await me_status(client, bearer(other)) == 401
    assert await me_status(client, bearer(tokens)) == 200


@pytest.mark.parametrize("settings_overrides", [{"RATE_LIMIT_REGISTER_PER_IP": 3}])
async def test_email_taken_probes_are_limited_like_register(client: httpx.AsyncClient) -> None:
    _, tokens = await _account(client)
    taken = [unique_email("taken") for _ in range(3)]
    for i, email in enumerate(taken):
        registered = await client.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD},
            headers=_from(f"192.0.2.{200 + i}"),
        )
        assert registered.status_code == 201
    ip = "198.51.100.60"
    for email in taken:
        probe = await _patch_me(client, tokens, {"email": email, "current_password": PASSWORD}, ip)
        assert probe.json() == {"detail": "UPDATE_USER_EMAIL_ALREADY_EXISTS"}
    assert _is_429(
        await _patch_me(client, tokens, {"email": unique_email(), "current_password": PASSWORD}, ip)
    )


# --- hashing off the event loop ------------------------------------------------------------


class LoopWatchingHelper:
    """The password helper, noting for each hash or verify whether it ran on the loop."""

    def __init__(self, inner: PasswordHelper) -> None:
        self.inner = inner
        self.on_loop: list[str] = []
        self.calls = 0

    def _note(self, name: str) -> None:
        self.calls += 1
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self.on_loop.append(name)

    def hash(self, password: str) -> str:
        self._note("hash")
        return self.inner.hash(password)

    def verify_and_update(self, plain: str, hashed: str) -> tuple[bool, str | None]:
        self._note("verify")
        return self.inner.verify_and_update(plain, hashed)

    def generate(self) -> str:
        return self.inner.generate()


@pytest.fixture
def watcher(cheap_password_hashing: None, monkeypatch: pytest.MonkeyPatch) -> LoopWatchingHelper:
    del cheap_password_hashing  # wrapped here, so it must be in place first
    from app.users import passwords  # pylint: disable=import-outside-toplevel  # patched above

    helper = LoopWatchingHelper(passwords.PASSWORD_HELPER)
    monkeypatch.setattr(passwords, "PASSWORD_HELPER", helper)
    return helper


@pytest.mark.parametrize("settings_overrides", [{}])
async def test_no_password_hash_runs_on_the_event_loop(
    client: httpx.AsyncClient, outbox: Outbox, watcher: LoopWatchingHelper
) -> None:
    email, tokens = await _account(client)  # register and login
    changed = await _patch_me(
        client, tokens, {"password": NEW_PASSWORD, "current_password": PASSWORD}
    )
    assert changed.status_code == 200
    await client.post("/api/v1/auth/forgot-password", json={"email": email})
    reset = await client.post(
        "/api/v1/auth/reset-password",
        json={"token": outbox.token(email, "reset"), "password": PASSWORD},
    )
    assert reset.status_code == 200
    await client.post("/api/v1/auth/forgot-password", json={"email": "nobody@example.com"})
    tokens = await login_tokens(client, email)
    assert (await _deregister(client, tokens, PASSWORD, "192.0.2.99")).status_code == 204
    assert watcher.calls >= 8
    assert watcher.on_loop == []


async def test_hashes_run_on_the_host_cores_shared_out_among_the_workers() -> None:
    """The default: the host's cores divided among its workers (at least one each); at
    most that many hashes run at once in a process, on threads beside the event loop."""
    from app.users import passwords  # pylint: disable=import-outside-toplevel  # its state is reset

    cores = os.cpu_count() or 1
    assert Settings(WEB_CONCURRENCY=1).hash_threads == cores
    assert Settings(WEB_CONCURRENCY=cores * 4).hash_threads == 1
    assert Settings(WEB_CONCURRENCY=2, PASSWORD_HASH_THREADS=3).hash_threads == 3

    running, most = 0, 0
    lock = threading.Lock()
    threads: set[str] = set()

    def slow_hash() -> None:
        nonlocal running, most
        threads.add(threading.current_thread().name)
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    before = passwords.hash_threads()
    try:
        for size in (1, 3):
            passwords.use_hash_threads(size)
            most = 0
            await asyncio.gather(*(passwords.off_loop(slow_hash) for _ in range(8)))
            assert most == size
        # The process's own hashing threads, never the loop's default pool: at most as
        # many threads (and memory arenas) as hashes at once.
        assert all(name.startswith("password-hash") for name in threads), threads
    finally:
        passwords.use_hash_threads(before)


class HeldHashes:
    """One hashing thread, on which the hash named "first" runs until `release` is set;
    `started` names the hashes begun, in order."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: list[str] = []

    def hash_of(self, name: str) -> str:
        self.started.append(name)
        if name == "first":
            self.release.wait(5)
        return name


@pytest.fixture
def held() -> Iterator[HeldHashes]:
    from app.users import passwords  # pylint: disable=import-outside-toplevel  # its state is reset

    hashes = HeldHashes()
    before = passwords.hash_threads()
    passwords.use_hash_threads(1)
    try:
        yield hashes
    finally:
        hashes.release.set()
        passwords.use_hash_threads(before)


async def test_a_thread_starts_its_next_hash_while_the_event_loop_is_busy(
    held: HeldHashes,
) -> None:
    """Each thread has a hash queued behind the one it runs: it starts it without waiting
    for the loop to resume the caller it finished for."""
    from app.users import passwords  # pylint: disable=import-outside-toplevel  # its state is reset

    calls = [asyncio.create_task(passwords.off_loop(held.hash_of, n)) for n in ("first", "next")]
    await asyncio.sleep(0.05)
    held.release.set()
    time.sleep(0.2)  # noqa: ASYNC251  (on purpose: the loop busy, not awaiting)
    assert held.started == ["first", "next"]
    assert await asyncio.gather(*calls) == ["first", "next"]


async def test_a_queued_hash_whose_caller_is_gone_never_runs(held: HeldHashes) -> None:
    """A hash queued in the pool ahead of time is cancelled with its caller."""
    from app.users import passwords  # pylint: disable=import-outside-toplevel  # its state is reset

    first = asyncio.create_task(passwords.off_loop(held.hash_of, "first"))
    gone = asyncio.create_task(passwords.off_loop(held.hash_of, "gone"))
    waiting = asyncio.create_task(passwords.off_loop(held.hash_of, "waiting"))
    await asyncio.sleep(0.05)
    assert held.started == ["first"]
    # "gone" sits in the pool's queue (handed to the thread ahead of time), "waiting" at
    # the gate behind it; the caller of "gone" goes away.
    gone.cancel()
    await asyncio.sleep(0.05)  # the cancellation reaches the pool's queue
    held.release.set()
    assert await first == "first"
    assert await waiting == "waiting"
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert held.started == ["first", "waiting"]


def test_the_app_sets_its_hash_threads_from_the_settings() -> None:
    from app.main import create_app  # pylint: disable=import-outside-toplevel
    from app.users import passwords  # pylint: disable=import-outside-toplevel

    before = passwords.hash_threads()
    try:
        create_app(Settings(APP_ENV="test", PASSWORD_HASH_THREADS=5))
        assert passwords.hash_threads() == 5
    finally:
        passwords.use_hash_threads(before)
