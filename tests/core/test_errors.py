"""Every error is JSON `{"detail": …}` and every response carries X-Request-ID."""

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from app.main import create_app
from settings import Settings
from tests.fixtures import services

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects


@pytest.fixture
def backend() -> str:
    return "sqlite"  # request handling does not depend on the database


@pytest.fixture
async def failing_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app plus one route that fails the way a bug would."""
    services.forget_dialect_caches()
    app: FastAPI = create_app(settings)

    async def explode() -> None:
        raise RuntimeError("secret internal detail")

    app.add_api_route("/api/test/explode", explode)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_unknown_route_is_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"detail": "Not Found"}


async def test_wrong_method_is_json_405(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/health/check")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        # Paths served by several routes: Allow names every one's methods, not the first's.
        ("DELETE", "/api/v1/study-records", "GET, POST"),
        ("PUT", "/api/v1/study-records", "GET, POST"),
        ("POST", "/api/v1/study-records/7", "GET, PUT, PATCH, DELETE"),
        ("PUT", "/api/v1/users/me", "GET, PATCH, DELETE"),
        ("POST", "/api/health/check", "GET"),
    ],
)
async def test_405_allow_lists_every_method_of_the_path(
    client: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json() == {"detail": "Method Not Allowed"}


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        content=b'{"email": "a@example.com", "password": ',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert "detail" in response.json()


async def test_undecodable_body_is_422_not_400(client: httpx.AsyncClient) -> None:
    # Found by the fuzzer: bytes that are not UTF-8 got FastAPI's 400.
    response = await client.post(
        "/api/v1/auth/register",
        content=b"w\xe9\xff",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]


async def test_other_http_errors_keep_their_answer(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


async def test_unhandled_error_is_json_500_without_trace(
    failing_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="app.errors"):
        response = await failing_client.get(
            "/api/test/explode", headers={"X-Request-ID": "trace-me-42"}
        )
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert "secret internal detail" not in response.text
    assert response.headers["x-request-id"] == "trace-me-42"
    logged = [r for r in caplog.records if r.name == "app.errors"]
    assert logged, "the failure must be logged"
    assert logged[0].request_id == "trace-me-42"
    assert logged[0].exc_info is not None


async def test_client_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health/check", headers={"X-Request-ID": "abc-123.x:y_z"})
    assert response.headers["x-request-id"] == "abc-123.x:y_z"


@pytest.mark.parametrize(
    "unsafe",
    ["x" * 129, "has space", "new\\nline", "<script>", "semi;colon", ""],
)
async def test_unsafe_request_id_is_replaced(client: httpx.AsyncClient, unsafe: str) -> None:
    response = await client.get("/api/health/check", headers={"X-Request-ID": unsafe})
    echoed = response.headers["x-request-id"]
    assert echoed != unsafe
    assert len(echoed) == 32
    assert echoed.isalnum()


async def test_request_id_is_generated_when_absent(client: httpx.AsyncClient) -> None:
    first = await client.get("/api/health/check")
    second = await client.get("/api/health/check")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_error_responses_carry_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/missing", headers={"X-Request-ID": "err-1"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "err-1"
