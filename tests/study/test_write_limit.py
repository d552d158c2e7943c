"""The per-user write limit with the session check it shares a round trip with: a write
admitted from the worker's session cache is checked and counted in one call to the store
(`authenticate_counting`), and only an admitted write is ever counted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.auth.models import User
from tests.conftest import bearer_for, make_user
from tests.study.conftest import URL, payload

LIMIT = {"RATE_LIMIT_WRITE_PER_USER": 3}
# Where the session cache is (Redis); on SQLite every request reads the database.
REDIS_BACKENDS = pytest.mark.parametrize("backend", ["postgres", "mysql"], indirect=True)


def count_calls(app: FastAPI, monkeypatch: pytest.MonkeyPatch, *names: str) -> dict[str, int]:
    """Counts the calls of these methods of the app's store from now on."""
    store = app.state.store
    calls = dict.fromkeys(names, 0)

    def counted(name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(store, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return await method(*args, **kwargs)

        return call

    for name in names:
        monkeypatch.setattr(store, name, counted(name))
    return calls


async def create(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.post(URL, json=payload(), headers=headers)).status_code


@REDIS_BACKENDS
@pytest.mark.parametrize("settings_overrides", [LIMIT])
async def test_a_cached_session_is_checked_and_counted_in_one_store_call(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = await bearer_for(app, await make_user())
    assert await create(client, headers) == 201  # read from the database, then cached
    calls = count_calls(app, monkeypatch, "get", "hit", "hit_if")
    assert [await create(client, headers) for _ in range(3)] == [201, 201, 429]
    assert calls == {"get": 0, "hit": 0, "hit_if": 3}


@REDIS_BACKENDS
@pytest.mark.parametrize("settings_overrides", [LIMIT])
async def test_a_revoked_session_writes_nothing_and_is_not_counted(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user()
    ended, kept = await bearer_for(app, user), await bearer_for(app, user)
    assert await create(client, ended) == 201  # counted: 1 of 3, and its session cached
    logout = await client.post("/api/v1/auth/jwt/logout", headers=ended)
    assert logout.status_code == 204
    assert [await create(client, ended) for _ in range(3)] == [401, 401, 401]
    # The refused ones were not counted: two more writes are allowed, not one.
    assert [await create(client, kept) for _ in range(3)] == [201, 201, 429]


@REDIS_BACKENDS
@pytest.mark.parametrize("settings_overrides", [LIMIT])
async def test_a_deactivated_user_is_refused_before_it_is_counted(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await make_user()
    headers = await bearer_for(app, user)
    assert await create(client, headers) == 201
    # Deactivated behind the service's back, and this worker's cache emptied: the session
    # is read from the database again, and its user is inactive.
    await User.filter(id=user.id).update(is_active=False)
    app.state.session_cache.clear()
    assert await create(client, headers) == 401
    await User.filter(id=user.id).update(is_active=True)
    app.state.session_cache.clear()
    # Not counted: two more writes are allowed.
    assert [await create(client, headers) for _ in range(3)] == [201, 201, 429]
