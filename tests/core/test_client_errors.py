"""Answers that tell a client what to fix: every 401 says why in WWW-Authenticate (RFC 6750)
(no token, an expired, malformed or revoked one, a refused refresh token), and a body of the
wrong kind names the content type the route reads."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import jwt
import pytest
from fastapi import FastAPI

from app.auth.errors import TOKEN_PROBLEMS
from app.platform.security import ACCESS_TOKEN_AUDIENCE, JWT_ALGORITHM
from tests.conftest import bearer_for, make_user

ME = "/api/v1/users/me"


def challenge(problem: str) -> str:
    assert problem in TOKEN_PROBLEMS
    return f'Bearer error="invalid_token", error_description="{problem}"'


async def test_no_token_says_it_is_missing(client: httpx.AsyncClient) -> None:
    response = await client.get(ME)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge("missing")


@pytest.mark.parametrize("token", ["not-a-token", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
async def test_a_malformed_token_says_so(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}
    assert response.headers["www-authenticate"] == challenge("malformed")


async def test_an_expired_token_says_it_expired(app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = await bearer_for(app, await make_user())
    secret = app.state.settings.SECRET_KEY
    claims = jwt.decode(
        headers["Authorization"].removeprefix("Bearer "),
        secret,
        algorithms=[JWT_ALGORITHM],
        audience=ACCESS_TOKEN_AUDIENCE,
    )
    claims["exp"] = int(datetime.now(UTC).timestamp()) - 5
    expired = jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)
    response = await client.get(ME, headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge("expired")
    # Signed with another key, the same claims are not ours: malformed, not expired.
    forged = jwt.encode(claims, "another key " * 4, algorithm=JWT_ALGORITHM)
    response = await client.get(ME, headers={"Authorization": f"Bearer {forged}"})
    assert response.headers["www-authenticate"] == challenge("malformed")


async def test_a_revoked_token_says_it_was_revoked(app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = await bearer_for(app, await make_user())
    assert (await client.post("/api/v1/auth/jwt/logout", headers=headers)).status_code == 204
    response = await client.get(ME, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge("revoked")


async def test_a_refused_refresh_token_is_an_invalid_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/jwt/refresh", json={"refresh_token": "x" * 40})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge("revoked")


# --- a body of the wrong kind --------------------------------------------------------------


async def test_json_without_its_content_type_is_422_saying_so(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/study-records",
        content=b'{"subject": "A", "title": "B", "minutes": 5, "studied_on": "2026-01-02"}',
        headers={**user_headers, "Content-Type": "text/plain"},
    )
    assert response.status_code == 422
    first = response.json()["detail"][0]
    assert (first["type"], first["loc"]) == ("content_type", ["header", "content-type"])
    assert "application/json" in first["msg"]


async def test_a_json_login_on_the_form_route_is_422_saying_so(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/jwt/login", json={"username": "a@example.com", "password": "x" * 12}
    )
    assert response.status_code == 422
    first = response.json()["detail"][0]
    assert first["type"] == "content_type"
    assert "form" in first["msg"]
