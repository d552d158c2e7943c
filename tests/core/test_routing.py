"""Gated routers: a request passes over a router outside its path at once, and routing
answers exactly as without the gates (matches, 404, 405 with every allowed method)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.http.routing import GatedRouter, include_gated


def _app() -> FastAPI:
    app = FastAPI()
    first = GatedRouter(prefix="/first")
    second = GatedRouter(prefix="/second")

    @first.get("/items")
    async def first_items() -> dict[str, str]:
        return {"router": "first"}

    @second.get("/items")
    async def second_items() -> dict[str, str]:
        return {"router": "second"}

    @second.delete("/items/{item_id}")
    async def second_delete(item_id: int) -> dict[str, int]:
        return {"deleted": item_id}

    include_gated(app, first, prefix="/api")
    include_gated(app, second, prefix="/api")
    return app


async def test_gated_routers_route_as_plain_ones() -> None:
    app = _app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/api/first/items")).json() == {"router": "first"}
        assert (await client.get("/api/second/items")).json() == {"router": "second"}
        assert (await client.delete("/api/second/items/7")).json() == {"deleted": 7}
        assert (await client.get("/api/third/items")).status_code == 404
        refused = await client.post("/api/second/items/7")
        assert refused.status_code == 405
        assert refused.headers["allow"] == "DELETE"


async def test_a_router_outside_the_path_tries_none_of_its_routes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = _app()
    tried: list[str] = []
    real_matches = APIRoute.matches

    def counting(self: APIRoute, scope: dict[str, object]) -> object:
        tried.append(self.path)
        return real_matches(self, scope)  # type: ignore[arg-type]

    monkeypatch.setattr(APIRoute, "matches", counting)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/api/second/items")).status_code == 200
    assert tried
    assert all(path.startswith("/second") for path in tried), tried


async def test_a_trailing_slash_redirect_keeps_the_clients_scheme(
    client: httpx.AsyncClient,
) -> None:
    """Behind a TLS proxy the app sees `http`: its redirect must not send the client to
    `http://…`. The Location is relative, so the client stays on the scheme it used."""
    response = await client.get(
        "/api/v1/study-records/?size=5",
        headers={"Host": "api.example.com", "X-Forwarded-Proto": "https"},
        follow_redirects=False,
    )
    assert response.status_code == 307
    assert response.headers["location"] == "/api/v1/study-records?size=5"
