"""Malformed input to the account routes: each its 4xx, never a 500, and nothing stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from app.auth.models import AuthSession, User
from tests.conftest import PASSWORD, unique_email
from tests.users.conftest import bearer, login_tokens, register

HUGE = "x" * (70 * 1024)


async def _snapshot() -> tuple[int, int, list[tuple[Any, ...]]]:
    users = (
        await User.all()
        .order_by("email")
        .values_list(
            "email", "hashed_password", "display_name", "is_active", "is_superuser", "is_verified"
        )
    )
    return await User.all().count(), await AuthSession.all().count(), list(users)


JSON_CASES: list[tuple[str, str, Any]] = [
    ("register", "/api/v1/auth/register", {"email": "not-an-email", "password": PASSWORD}),
    ("register", "/api/v1/auth/register", {"email": "a@@example.com", "password": PASSWORD}),
    ("register", "/api/v1/auth/register", {"password": PASSWORD}),
    ("register", "/api/v1/auth/register", {"email": "new@example.com"}),
    ("register", "/api/v1/auth/register", {"email": "new@example.com", "password": 12345678}),
    ("register", "/api/v1/auth/register", {"email": ["new@example.com"], "password": PASSWORD}),
    ("register", "/api/v1/auth/register", {"email": "new@example.com", "password": "p" * 1025}),
    (
        "register",
        "/api/v1/auth/register",
        {"email": "new@example.com", "password": PASSWORD, "display_name": "d" * 101},
    ),
    ("register", "/api/v1/auth/register", [1, 2, 3]),
    ("register", "/api/v1/auth/register", None),
    ("refresh", "/api/v1/auth/jwt/refresh", {}),
    ("refresh", "/api/v1/auth/jwt/refresh", {"refresh_token": 42}),
    ("refresh", "/api/v1/auth/jwt/refresh", {"refresh_token": "r" * 3000}),
    ("forgot", "/api/v1/auth/forgot-password", {"email": "nope"}),
    ("forgot", "/api/v1/auth/forgot-password", {}),
    ("reset", "/api/v1/auth/reset-password", {"token": "t"}),
    ("reset", "/api/v1/auth/reset-password", {"password": PASSWORD}),
    ("verify-request", "/api/v1/auth/request-verify-token", {"email": 5}),
    ("verify", "/api/v1/auth/verify", {}),
    ("verify", "/api/v1/auth/verify", {"token": None}),
]


@pytest.mark.parametrize(("name", "url", "body"), JSON_CASES, ids=[c[0] for c in JSON_CASES])
async def test_malformed_json_input_is_422_and_changes_nothing(
    client: httpx.AsyncClient, name: str, url: str, body: Any
) -> None:
    await register(client, unique_email())
    before = await _snapshot()
    response = await client.post(url, json=body)
    assert response.status_code == 422, (name, response.text)
    assert "detail" in response.json()
    assert await _snapshot() == before


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/auth/register",
        "/api/v1/auth/jwt/refresh",
        "/api/v1/auth/forgot-password",
        "/api/v1/auth/verify",
    ],
)
async def test_invalid_json_is_422(client: httpx.AsyncClient, url: str) -> None:
    response = await client.post(
        url, content=b'{"email": "a@example.com", ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    "data",
    [{}, {"username": "a@example.com"}, {"password": PASSWORD}],
    ids=["empty", "no-password", "no-username"],
)
async def test_login_with_missing_fields_is_422(
    client: httpx.AsyncClient, data: dict[str, str]
) -> None:
    response = await client.post("/api/v1/auth/jwt/login", data=data)
    assert response.status_code == 422
    assert await AuthSession.all().count() == 0


async def test_login_with_json_instead_of_a_form_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/jwt/login", json={"username": "a@example.com", "password": PASSWORD}
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("method", "url", "kind"),
    [
        ("POST", "/api/v1/auth/register", "json"),
        ("POST", "/api/v1/auth/jwt/login", "form"),
        ("POST", "/api/v1/auth/jwt/refresh", "json"),
        ("POST", "/api/v1/auth/forgot-password", "json"),
        ("PATCH", "/api/v1/users/me", "json"),
    ],
)
async def test_huge_bodies_are_413_and_change_nothing(
    client: httpx.AsyncClient, method: str, url: str, kind: str
) -> None:
    email = unique_email()
    await register(client, email)
    headers = bearer(await login_tokens(client, email))
    before = await _snapshot()
    payload = {"email": email, "username": email, "password": HUGE, "display_name": HUGE}
    if kind == "form":
        response = await client.request(method, url, data=payload, headers=headers)
    else:
        response = await client.request(method, url, json=payload, headers=headers)
    assert response.status_code == 413
    assert "detail" in response.json()
    assert await _snapshot() == before


async def test_huge_chunked_body_without_length_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "big@example.com", "password": "'
        for _ in range(20):
            yield b"p" * 4096
        yield b'"}'

    response = await client.post(
        "/api/v1/auth/register", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "Content Too Large"}
    assert not await User.filter(email="big@example.com").exists()


async def test_patch_me_with_wrong_types_is_422_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()
    await register(client, email)
    headers = bearer(await login_tokens(client, email))
    before = await _snapshot()
    for body in (
        {"email": "nope"},
        {"display_name": 5},
        {"password": ["x"]},
        {"is_superuser": "maybe"},
    ):
        response = await client.patch("/api/v1/users/me", json=body, headers=headers)
        assert response.status_code == 422, body
    assert await _snapshot() == before


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a b c"])
async def test_odd_authorization_headers_are_401(client: httpx.AsyncClient, header: str) -> None:
    response = await client.get("/api/v1/users/me", headers={"Authorization": header})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "form",
    [
        # Seven fields, one more than OAuth2's password form has.
        [("username", "a@example.com"), ("password", PASSWORD)]
        + [(f"extra{n}", "x") for n in range(5)],
        [("username", "a@example.com"), ("password", PASSWORD)]
        + [(f"f{n}", "x") for n in range(3000)],
        [("username", "a@example.com"), ("password", PASSWORD), ("password", "other")],
    ],
    ids=["seven", "thousands", "twice"],
)
async def test_a_login_form_with_too_many_fields_is_422(
    client: httpx.AsyncClient, form: list[tuple[str, str]]
) -> None:
    response = await client.post(
        "/api/v1/auth/jwt/login",
        content=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == "too_many_fields"


async def test_a_full_oauth2_login_form_is_accepted(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await register(client, email)
    form = {
        "grant_type": "password",
        "username": email,
        "password": PASSWORD,
        "scope": "",
        "client_id": "web",
        "client_secret": "",
    }
    response = await client.post("/api/v1/auth/jwt/login", data=form)
    assert response.status_code == 200, response.text
