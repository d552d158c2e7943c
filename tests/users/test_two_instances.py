"""Two app instances (two workers or hosts) sharing one database and one Redis.

Each instance is its own create_app() with its own lifespan, settings object and store
client (its own Redis connection pool), as a second worker has. One process can hold only
one global Tortoise context, so the second lifespan registers its own context without the
global fallback; requests of both apps then use one connection pool to the one database,
where separate processes would each have a pool: the database is shared either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from tortoise.contrib.fastapi import RegisterTortoise

from app.main import create_app
from settings import Settings
from tests.conftest import unique_email
from tests.fixtures import services
from tests.users.conftest import bearer, login_tokens, me_status, refresh, register

# SQLite runs with the in-process store, which one process cannot share with another.
pytestmark = pytest.mark.parametrize("backend", ["postgres", "mysql"], indirect=True)


def _register_without_global_fallback(app: FastAPI, settings: Settings) -> RegisterTortoise:
    return RegisterTortoise(
        app,
        config=settings.tortoise_config(),
        generate_schemas=False,
        _enable_global_fallback=False,
    )


@asynccontextmanager
async def second_instance(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Another create_app() on the same settings, in its own lifespan, and a client for it."""
    services.forget_dialect_caches()
    other = create_app(settings)
    monkeypatch.setattr("app.main.register_tortoise", _register_without_global_fallback)
    async with LifespanManager(other):
        monkeypatch.undo()
        transport = httpx.ASGITransport(app=other, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://other") as client:
            yield other, client


async def test_logout_on_one_instance_holds_on_the_other(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = unique_email()
    await register(client, email)
    tokens = await login_tokens(client, email)
    async with second_instance(settings, monkeypatch) as (other_app, other):
        assert other_app is not app
        assert other_app.state.store is not app.state.store
        assert app.state.store.name == other_app.state.store.name == "redis"
        assert await me_status(other, bearer(tokens)) == 200
        response = await other.post("/api/v1/auth/jwt/logout", headers=bearer(tokens))
        assert response.status_code == 204
        assert await me_status(client, bearer(tokens)) == 401
        assert await me_status(other, bearer(tokens)) == 401
        assert (await refresh(client, tokens["refresh_token"])).status_code == 401


@pytest.mark.parametrize(
    "settings_overrides",
    [{"RATE_LIMIT_LOGIN_PER_EMAIL_IP": 3, "RATE_LIMIT_LOGIN_PER_IP": 0}],
)
async def test_rate_limits_are_shared_by_the_instances(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = unique_email()
    form = {"username": email, "password": "wrong password"}
    async with second_instance(settings, monkeypatch) as (_, other):
        statuses = [
            (await c.post("/api/v1/auth/jwt/login", data=form)).status_code
            for c in (client, other, client)
        ]
        assert statuses == [400, 400, 400]
        limited = await other.post("/api/v1/auth/jwt/login", data=form)
        assert limited.status_code == 429
        assert (await client.post("/api/v1/auth/jwt/login", data=form)).status_code == 429
