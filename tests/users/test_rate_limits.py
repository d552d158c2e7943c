"""Login, register, forgot-password and request-verify-token are limited per IP and email;
login per address, per (account, address), and with a lock on the account for addresses
that have not logged in to it, which backs off (README, "Login limits")."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.auth.models import User
from app.platform import ratelimit
from tests.conftest import PASSWORD, unique_email
from tests.users.conftest import register

TIGHT = {
    "RATE_LIMIT_WINDOW_SECONDS": 60,
    "RATE_LIMIT_LOGIN_PER_IP": 3,
    "RATE_LIMIT_LOGIN_PER_EMAIL_IP": 2,
    "RATE_LIMIT_LOGIN_PER_EMAIL": 2,
    "RATE_LIMIT_REGISTER_PER_IP": 3,
    "RATE_LIMIT_REGISTER_PER_EMAIL": 2,
    "RATE_LIMIT_FORGOT_PASSWORD_PER_IP": 3,
    "RATE_LIMIT_FORGOT_PASSWORD_PER_EMAIL": 2,
    "RATE_LIMIT_VERIFY_PER_IP": 3,
    "RATE_LIMIT_VERIFY_PER_EMAIL": 2,
}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return TIGHT


def _from(ip: str) -> dict[str, str]:
    # The test client's peer is 127.0.0.1, a trusted proxy: it may name the client.
    return {"X-Forwarded-For": ip}


async def _attempt(client: httpx.AsyncClient, route: str, email: str, ip: str) -> httpx.Response:
    if route == "login":
        return await client.post(
            "/api/v1/auth/jwt/login",
            data={"username": email, "password": "wrong password"},
            headers=_from(ip),
        )
    if route == "register":
        return await client.post(
            "/api/v1/auth/register", json={"email": email, "password": PASSWORD}, headers=_from(ip)
        )
    return await client.post(f"/api/v1/auth/{route}", json={"email": email}, headers=_from(ip))


ROUTES = ["login", "register", "forgot-password", "request-verify-token"]
# Login's per-email limit counts failures from all addresses and then locks (below).
PER_EMAIL_ROUTES = ["register", "forgot-password", "request-verify-token"]


def _assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == {"detail": "TOO_MANY_REQUESTS"}
    assert 1 <= int(response.headers["Retry-After"]) <= 60


@pytest.mark.parametrize("route", PER_EMAIL_ROUTES)
async def test_per_email_limit_holds_across_ips(client: httpx.AsyncClient, route: str) -> None:
    email = unique_email()
    first = [await _attempt(client, route, email, f"203.0.113.{i}") for i in (1, 2)]
    assert all(r.status_code != 429 for r in first)
    _assert_limited(await _attempt(client, route, email.upper(), "203.0.113.3"))
    # Another email is not affected.
    assert (await _attempt(client, route, unique_email(), "203.0.113.4")).status_code != 429


@pytest.mark.parametrize("route", ROUTES)
async def test_per_ip_limit_holds_across_emails(client: httpx.AsyncClient, route: str) -> None:
    ip = "198.51.100.7"
    first = [await _attempt(client, route, unique_email(), ip) for _ in range(3)]
    assert all(r.status_code != 429 for r in first)
    _assert_limited(await _attempt(client, route, unique_email(), ip))
    assert (await _attempt(client, route, unique_email(), "198.51.100.8")).status_code != 429


async def test_limited_register_stores_nothing(client: httpx.AsyncClient) -> None:
    ip = "192.0.2.1"
    for _ in range(3):
        await _attempt(client, "register", unique_email(), ip)
    _assert_limited(await _attempt(client, "register", "late@example.com", ip))
    assert await User.all().count() == 3
    assert not await User.filter(email="late@example.com").exists()


async def _fail_from_strangers(client: httpx.AsyncClient, email: str, count: int) -> None:
    for i in range(count):
        response = await _attempt(client, "login", email, f"203.0.113.{100 + i}")
        assert response.status_code == 400, response.text


async def test_limited_login_with_the_right_password_is_still_429(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()
    await register(client, email, headers=_from("192.0.2.50"))
    await _fail_from_strangers(client, email, 3)  # one past the ceiling of 2: locked
    response = await client.post(
        "/api/v1/auth/jwt/login",
        data={"username": email, "password": PASSWORD},
        headers=_from("192.0.2.52"),
    )
    _assert_limited(response)


async def test_login_attempts_at_one_account_from_one_address_are_limited(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()
    await register(client, email)
    for _ in range(2):
        assert (await _attempt(client, "login", email, "198.51.100.20")).status_code == 400
    _assert_limited(await _attempt(client, "login", email, "198.51.100.20"))
    # Only that address is held back: the account is not locked (2 failures, ceiling 2).
    ok = await client.post(
        "/api/v1/auth/jwt/login",
        data={"username": email, "password": PASSWORD},
        headers=_from("198.51.100.21"),
    )
    assert ok.status_code == 200, ok.text


async def test_strangers_cannot_lock_the_user_out_of_an_address_it_logged_in_from(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()
    await register(client, email)
    home = _from("192.0.2.77")
    first = await client.post(
        "/api/v1/auth/jwt/login", data={"username": email, "password": PASSWORD}, headers=home
    )
    assert first.status_code == 200
    await _fail_from_strangers(client, email, 3)
    # Strangers (and any new address) are locked out of the account now ...
    _assert_limited(await _attempt(client, "login", email, "203.0.113.200"))
    # ... the user at its own address is not, as often as its per-address limit allows.
    again = await client.post(
        "/api/v1/auth/jwt/login", data={"username": email, "password": PASSWORD}, headers=home
    )
    assert again.status_code == 200, again.text


async def test_the_account_lock_backs_off(client: httpx.AsyncClient, app: FastAPI) -> None:
    email = unique_email()
    await register(client, email)
    await _fail_from_strangers(client, email, 3)
    locked = await _attempt(client, "login", email, "203.0.113.250")
    _assert_limited(locked)
    assert int(locked.headers["Retry-After"]) <= 60
    # The first lock ends (played by removing it) and the strangers go on: twice as long.
    account = ratelimit.hashed(email)
    await app.state.store.delete(f"ratelimit:login:email:lock:{account}")
    await _fail_from_strangers(client, email, 3)
    relocked = await _attempt(client, "login", email, "203.0.113.251")
    assert relocked.json() == {"detail": "TOO_MANY_REQUESTS"}
    assert 60 < int(relocked.headers["Retry-After"]) <= 120


@pytest.mark.parametrize(
    "settings_overrides",
    [{**TIGHT, "TRUSTED_PROXIES": "10.0.0.1"}],
)
async def test_untrusted_peer_cannot_dodge_the_ip_limit_with_x_forwarded_for(
    client: httpx.AsyncClient,
) -> None:
    # 127.0.0.1 is not a trusted proxy here: its X-Forwarded-For is ignored.
    for i in range(3):
        await _attempt(client, "forgot-password", unique_email(), f"203.0.113.{i}")
    _assert_limited(await _attempt(client, "forgot-password", unique_email(), "203.0.113.99"))


@pytest.mark.parametrize(
    "settings_overrides",
    [
        {
            **TIGHT,
            "RATE_LIMIT_LOGIN_PER_IP": 0,
            "RATE_LIMIT_LOGIN_PER_EMAIL_IP": 0,
            "RATE_LIMIT_LOGIN_PER_EMAIL": 0,
        }
    ],
)
async def test_zero_turns_a_limit_off(client: httpx.AsyncClient) -> None:
    responses: list[Any] = [
        await _attempt(client, "login", "a@example.com", "192.0.2.9") for _ in range(5)
    ]
    assert [r.status_code for r in responses] == [400] * 5
