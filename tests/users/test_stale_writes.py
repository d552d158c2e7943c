"""A write changes only what it was asked to change (issue 24, item 1).

The user's own `{}` and `display_name` PATCHes run in a loop, several at once, while a
security change lands: a password change, a password reset, an admin's deactivation and a
superuser's demotion. Each PATCH holds the user as read at authentication (or from the
session cache); had it saved that whole row, it would write the old password hash or flag
back. Each change must hold every time. PostgreSQL with Redis, as in production.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.auth.models import User
from app.users import passwords
from settings import Settings
from tests.conftest import PASSWORD, TEST_SECRET_KEY, bearer_for, make_user
from tests.fixtures.servers import free_port, server_process, wait_until_up
from tests.users.conftest import bearer, login_tokens

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)

ROUNDS = 5
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "asgi:app"]
WRITERS = 6
ME = "/api/v1/users/me"
NO_LIMITS = {
    "RATE_LIMIT_LOGIN_PER_IP": 0,
    "RATE_LIMIT_LOGIN_PER_EMAIL_IP": 0,
    "RATE_LIMIT_LOGIN_PER_EMAIL": 0,
    "RATE_LIMIT_PASSWORD_PER_USER": 0,
    "RATE_LIMIT_PASSWORD_PER_IP": 0,
}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return NO_LIMITS


async def _patch_loop(
    client: httpx.AsyncClient, headers: dict[str, str], stop: asyncio.Event
) -> int:
    sent = 0
    while not stop.is_set():
        body = {} if sent % 2 else {"display_name": f"name {sent}"}
        response = await client.patch(ME, json=body, headers=headers)
        assert response.status_code in (200, 401), response.text
        sent += 1
    return sent


@asynccontextmanager
async def stale_writers(client: httpx.AsyncClient, headers: dict[str, str]) -> AsyncIterator[None]:
    """PATCHes of the user's own account in flight before, during and after the block."""
    stop = asyncio.Event()
    loops = [asyncio.create_task(_patch_loop(client, headers, stop)) for _ in range(WRITERS)]
    await asyncio.sleep(0.05)
    try:
        yield
        await asyncio.sleep(0.1)  # the PATCHes in flight during the change finish
    finally:
        stop.set()
        sent = await asyncio.gather(*loops)
    assert all(count >= 1 for count in sent), sent
    assert sum(sent) >= 2 * WRITERS, sent


async def _can_log_in(client: httpx.AsyncClient, email: str, password: str) -> bool:
    response = await client.post(
        "/api/v1/auth/jwt/login", data={"username": email, "password": password}
    )
    return response.status_code == 200


async def _each_round(change: Callable[[int], Awaitable[None]]) -> None:
    for round_no in range(ROUNDS):
        await change(round_no)


async def test_an_own_password_change_holds(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user()
    headers = await bearer_for(app, user)

    async def change(round_no: int) -> None:
        old = PASSWORD if round_no == 0 else f"password {round_no}"
        new = f"password {round_no + 1}"
        async with stale_writers(client, headers):
            changed = await client.patch(
                ME, json={"password": new, "current_password": old}, headers=headers
            )
            assert changed.status_code == 200, changed.text
        assert await _can_log_in(client, user.email, new)
        assert not await _can_log_in(client, user.email, old)

    await _each_round(change)


def _reset_password(round_no: int) -> str:
    return f"reset password {round_no}" if round_no else PASSWORD


async def test_a_password_reset_holds(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user()

    async def change(round_no: int) -> None:
        headers = bearer(await login_tokens(client, user.email, _reset_password(round_no)))
        new = _reset_password(round_no + 1)
        token = await passwords.reset_password_token(await User.get(id=user.id), app.state.settings)
        async with stale_writers(client, headers):
            reset = await client.post(
                "/api/v1/auth/reset-password", json={"token": token, "password": new}
            )
            assert reset.status_code == 200, reset.text
        assert await _can_log_in(client, user.email, new)

    await _each_round(change)


async def test_an_admin_deactivation_holds(
    client: httpx.AsyncClient, superuser_headers: dict[str, str]
) -> None:
    user = await make_user()
    url = f"/api/v1/users/{user.id}"

    async def change(_round_no: int) -> None:
        headers = bearer(await login_tokens(client, user.email))
        async with stale_writers(client, headers):
            off = await client.patch(url, json={"is_active": False}, headers=superuser_headers)
            assert off.status_code == 200, off.text
        assert (await User.get(id=user.id)).is_active is False
        assert not await _can_log_in(client, user.email, PASSWORD)
        back = await client.patch(url, json={"is_active": True}, headers=superuser_headers)
        assert back.status_code == 200

    await _each_round(change)


async def test_a_superuser_demotion_holds(
    client: httpx.AsyncClient, app: FastAPI, superuser_headers: dict[str, str]
) -> None:
    user = await make_user(superuser=True)
    url = f"/api/v1/users/{user.id}"
    headers = await bearer_for(app, user)

    async def change(_round_no: int) -> None:
        async with stale_writers(client, headers):
            demoted = await client.patch(
                url, json={"is_superuser": False}, headers=superuser_headers
            )
            assert demoted.status_code == 200, demoted.text
        assert (await User.get(id=user.id)).is_superuser is False
        assert (await client.get("/api/v1/users", headers=headers)).status_code == 403
        promoted = await client.patch(url, json={"is_superuser": True}, headers=superuser_headers)
        assert promoted.status_code == 200

    await _each_round(change)


async def test_an_empty_update_writes_nothing_and_answers_the_current_user(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    user = await make_user()
    headers = await bearer_for(app, user)
    assert (await client.get(ME, headers=headers)).status_code == 200  # now in the cache
    # Changed behind the cached copy's back, as another worker's request would.
    await User.filter(id=user.id).update(display_name="set elsewhere")
    for body in ({}, {"display_name": None, "email": None, "password": None}):
        answer = await client.patch(ME, json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["display_name"] == "set elsewhere"
    assert (await User.get(id=user.id)).display_name == "set elsewhere"


async def _gunicorn_round(
    client: httpx.AsyncClient,
    victim: User,
    admin_headers: dict[str, str],
    password: str,
    settings: Settings,
) -> str:
    """One round of the four changes against the server; the victim's password after it."""
    headers = bearer(await login_tokens(client, victim.email, password))
    new = f"{password} +"
    async with stale_writers(client, headers):
        body = {"password": new, "current_password": password}
        changed = await client.patch(ME, json=body, headers=headers)
        assert changed.status_code == 200, changed.text
    assert await _can_log_in(client, victim.email, new)

    password, new = new, f"{new} reset"
    token = await passwords.reset_password_token(await User.get(id=victim.id), settings)
    async with stale_writers(client, headers):
        body = {"token": token, "password": new}
        reset = await client.post("/api/v1/auth/reset-password", json=body)
        assert reset.status_code == 200, reset.text
    assert await _can_log_in(client, victim.email, new)

    url = f"/api/v1/users/{victim.id}"
    headers = bearer(await login_tokens(client, victim.email, new))
    async with stale_writers(client, headers):
        demoted = await client.patch(url, json={"is_superuser": False}, headers=admin_headers)
        assert demoted.status_code == 200, demoted.text
    assert (await User.get(id=victim.id)).is_superuser is False
    assert (await client.get("/api/v1/users", headers=headers)).status_code == 403

    async with stale_writers(client, headers):
        off = await client.patch(url, json={"is_active": False}, headers=admin_headers)
        assert off.status_code == 200, off.text
    assert (await User.get(id=victim.id)).is_active is False
    assert not await _can_log_in(client, victim.email, new)

    back = {"is_active": True, "is_superuser": True}
    assert (await client.patch(url, json=back, headers=admin_headers)).status_code == 200
    return new


@pytest.mark.slow  # a real gunicorn with two worker processes
@pytest.mark.usefixtures("app")  # the database, emptied, and Tortoise for the checks
async def test_every_change_holds_under_gunicorn_with_two_workers(
    settings: Settings, tmp_path: Path
) -> None:
    """The same races across two worker processes, each with its own session cache (as
    production runs): the stale copy may be the other worker's."""
    victim = await make_user(superuser=True)
    admin = await make_user(superuser=True)
    port = free_port()
    env = {
        **os.environ,
        **{name: str(value) for name, value in NO_LIMITS.items()},
        "APP_ENV": "test",
        "DATABASE_URL": settings.DATABASE_URL,
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": TEST_SECRET_KEY,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "AUDIT_ENABLED": "false",
    }
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "gunicorn.log"
    with server_process(GUNICORN, env, log) as server:
        wait_until_up(base, server, log)
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            admin_headers = bearer(await login_tokens(client, admin.email))
            password = PASSWORD
            for _ in range(ROUNDS):
                password = await _gunicorn_round(client, victim, admin_headers, password, settings)
    # Two worker processes ran, each with its own session cache.
    pids = set(re.findall(r"Started server process \[(\d+)\]", log.read_text()))
    assert len(pids) == 2, log.read_text()[-2000:]
