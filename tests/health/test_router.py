"""Liveness and readiness as docs/API.md describes them."""

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send
from tortoise import Tortoise

from app.health.router import liveness
from app.http.routing import route_template
from app.platform.redact import MASK

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


async def test_check_is_served_by_starlette_alone_and_answers_as_an_api_route(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # First of the app's routes, and what handles the check: no FastAPI route (and no
    # dependency solving) is reached.
    assert app.router.routes[0] is liveness
    handled: list[tuple[str, bool]] = []
    handle = liveness.handle

    async def observed(scope: Scope, receive: Receive, send: Send) -> None:
        handled.append((scope["method"], scope.get("route") is liveness))
        await handle(scope, receive, send)

    monkeypatch.setattr(liveness, "handle", observed)
    ok = await client.get("/api/health/check")
    head = await client.head("/api/health/check")
    post = await client.post("/api/health/check")
    unknown = await client.get("/api/health/check?x=1&token=secret")
    # Each time it is the request's route, as FastAPI's routes are: the audit trail, the
    # metrics and the access log name the request by its template.
    assert handled == [("GET", True), ("HEAD", True), ("POST", True), ("GET", True)]
    assert route_template({"route": liveness}) == "/api/health/check"
    assert (ok.status_code, ok.json(), ok.headers["content-type"]) == (
        200,
        {"status": "ok"},
        "application/json",
    )
    # Like every FastAPI route: no HEAD, and the 405 names what the path allows.
    assert (head.status_code, head.headers["allow"]) == (405, "GET")
    assert (post.status_code, post.headers["allow"]) == (405, "GET")
    assert unknown.status_code == 422
    problems = unknown.json()["detail"]
    assert [(p["loc"], p["type"], p["input"]) for p in problems] == [
        (["query", "x"], "extra_forbidden", "1"),
        (["query", "token"], "extra_forbidden", MASK),
    ]
