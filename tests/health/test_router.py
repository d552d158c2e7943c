"""Liveness and readiness as docs/API.md describes them."""

import httpx
import pytest
from tortoise import Tortoise

pytestmark = [pytest.mark.dialects, pytest.mark.asyncio]


async def test_check_is_ok_without_touching_the_database(client: httpx.AsyncClient) -> None:
    await Tortoise.close_connections()  # a liveness probe must not need the database
    response = await client.get("/api/health/check")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_reports_database_and_redis(client: httpx.AsyncClient, backend: str) -> None:
    response = await client.get("/api/health/ready")
    assert response.status_code == 200
    expected_redis = "disabled" if backend == "sqlite" else "ok"
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": expected_redis},
    }


async def test_ready_is_503_naming_the_database_when_it_fails(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    async def broken(timeout_seconds: float) -> None:
        raise ConnectionRefusedError("database is down")

    monkeypatch.setattr("app.health.router.ping_database", broken)
    response = await client.get("/api/health/ready")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "unavailable", "redis": "disabled" if backend == "sqlite" else "ok"},
    }


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@pytest.mark.parametrize("settings_overrides", [{"REDIS_URL": "redis://127.0.0.1:1/0"}])
async def test_ready_is_503_naming_redis_when_it_does_not_answer(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/health/ready")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "redis": "unavailable"},
    }
