"""Redis going away: the service keeps serving, a logged-out token stays dead, readiness
says so, and everything works again when Redis is back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from app.platform import ratelimit
from settings import Settings
from tests.conftest import PASSWORD, unique_email
from tests.core.test_outage import CuttableProxy

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects

PROXIES: dict[str, CuttableProxy] = {}


@pytest.fixture
def backend() -> str:
    return "postgres"  # the database stays up; any of the three would do


@pytest.fixture
async def redis_url(redis_url: str) -> AsyncIterator[str]:  # the real one, rerouted
    real = urlsplit(redis_url)
    assert real.hostname
    assert real.port
    link = CuttableProxy(real.hostname, real.port)
    await link.start()
    netloc = f"127.0.0.1:{link.port}"
    PROXIES[netloc] = link
    try:
        yield urlunsplit(real._replace(netloc=netloc))
    finally:
        PROXIES.pop(netloc, None)
        await link.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/jwt/login", data={"username": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def serving_without_redis(
    client: httpx.AsyncClient, email: str, kept: dict[str, str], ended: dict[str, str]
) -> dict[str, str]:
    """What must hold while Redis is cut; returns the tokens of a login made meanwhile."""
    ready = await client.get("/api/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "ok", "redis": "unavailable"}
    assert (await client.get("/api/health/check")).status_code == 200

    # Caches bypassed: the database answers for sessions, and stays the authority.
    live = await client.get("/api/v1/users/me", headers=bearer(kept["access_token"]))
    assert live.status_code == 200
    dead = await client.get("/api/v1/users/me", headers=bearer(ended["access_token"]))
    assert dead.status_code == 401
    refreshed = await client.post(
        "/api/v1/auth/jwt/refresh", json={"refresh_token": ended["refresh_token"]}
    )
    assert refreshed.status_code == 401

    # Writes, the public count, and a new login (rate limits per process) all work.
    created = await client.post(
        "/api/v1/study-records",
        json={"subject": "s", "title": "t", "minutes": 5, "studied_on": "2024-01-01"},
        headers=bearer(kept["access_token"]),
    )
    assert created.status_code == 201, created.text
    assert (await client.get("/api/v1/users/count")).status_code == 200
    during = await login(client, email)
    assert during["access_token"]
    # A logout during the outage is durable too.
    out = await client.post("/api/v1/auth/jwt/logout", headers=bearer(during["access_token"]))
    assert out.status_code == 204
    after_logout = await client.get("/api/v1/users/me", headers=bearer(during["access_token"]))
    assert after_logout.status_code == 401
    return during


@pytest.mark.usefixtures("app")
async def test_redis_outage_keeps_serving_and_revocations_hold(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    link = PROXIES[urlsplit(settings.REDIS_URL).netloc]
    email = unique_email()
    registered = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert registered.status_code == 201
    kept = await login(client, email)
    ended = await login(client, email)
    # Both sessions admitted once, so the session cache holds them.
    for tokens in (kept, ended):
        me = await client.get("/api/v1/users/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 200
    logout = await client.post("/api/v1/auth/jwt/logout", headers=bearer(ended["access_token"]))
    assert logout.status_code == 204

    await link.cut()
    try:
        during = await serving_without_redis(client, email, kept, ended)
    finally:
        await link.restore()

    assert (await client.get("/api/health/ready")).status_code == 200
    for token, status in ((kept, 200), (ended, 401), (during, 401)):
        response = await client.get("/api/v1/users/me", headers=bearer(token["access_token"]))
        assert response.status_code == status, (token, response.text)


@pytest.mark.parametrize("settings_overrides", [{"RATE_LIMIT_LOGIN_PER_IP": 3}])
@pytest.mark.usefixtures("app")
async def test_rate_limits_count_in_process_while_redis_is_down(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Redis is tried on every request, so its return shows at once.
    monkeypatch.setattr(ratelimit, "RETRY_STORE_AFTER_SECONDS", 0.0)
    link = PROXIES[urlsplit(settings.REDIS_URL).netloc]
    form = {"username": unique_email(), "password": "wrong password"}
    assert (await client.post("/api/v1/auth/jwt/login", data=form)).status_code == 400
    await link.cut()
    try:
        answers = [
            (await client.post("/api/v1/auth/jwt/login", data=form)).status_code for _ in range(4)
        ]
    finally:
        await link.restore()
    # In process: three attempts allowed, the fourth refused.
    assert answers == [400, 400, 400, 429]
    # Back on Redis, which counted the one attempt before the cut.
    again = [(await client.post("/api/v1/auth/jwt/login", data=form)).status_code for _ in range(3)]
    assert again == [400, 400, 429]
