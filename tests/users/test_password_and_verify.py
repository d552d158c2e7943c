"""Forgot and reset password, request and confirm verification (API.md, Accounts)."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi_users.password import PasswordHelper

from app.auth.models import User
from tests.conftest import PASSWORD, unique_email
from tests.users.conftest import Outbox, bearer, login_tokens, me_status, refresh, register

NEW_PASSWORD = "a brand new password"
# The routes a mail names, what each takes besides the token, and how it refuses a bad one.
BODY_OF = {"/api/v1/auth/verify": {}, "/api/v1/auth/reset-password": {"password": NEW_PASSWORD}}
REFUSAL_OF = {
    "/api/v1/auth/verify": "VERIFY_USER_BAD_TOKEN",
    "/api/v1/auth/reset-password": "RESET_PASSWORD_BAD_TOKEN",
}


async def _forgot(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/api/v1/auth/forgot-password", json={"email": email})


async def _reset(client: httpx.AsyncClient, token: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/reset-password", json={"token": token, "password": password}
    )


async def test_forgot_password_is_202_and_mails_a_token(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    email = unique_email()
    await register(client, email)
    response = await _forgot(client, email.upper())
    assert response.status_code == 202
    token = outbox.token(email, "reset")
    assert token not in response.text


async def test_forgot_password_for_unknown_or_inactive_email_is_202_without_mail(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    inactive = unique_email()
    await register(client, inactive)
    await User.filter(email=inactive).update(is_active=False)
    outbox.messages.clear()
    for email in ("nobody@example.com", inactive):
        response = await _forgot(client, email)
        assert response.status_code == 202
    assert outbox.messages == []


async def test_reset_password_sets_it_and_ends_existing_tokens(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    email = unique_email()
    await register(client, email)
    tokens = await login_tokens(client, email)
    await _forgot(client, email)
    response = await _reset(client, outbox.token(email, "reset"), NEW_PASSWORD)
    assert response.status_code == 200
    assert await me_status(client, bearer(tokens)) == 401
    assert (await refresh(client, tokens["refresh_token"])).status_code == 401
    old_login = await client.post(
        "/api/v1/auth/jwt/login", data={"username": email, "password": PASSWORD}
    )
    assert old_login.status_code == 400
    assert await me_status(client, bearer(await login_tokens(client, email, NEW_PASSWORD))) == 200


async def test_reset_token_works_once(client: httpx.AsyncClient, outbox: Outbox) -> None:
    email = unique_email()
    await register(client, email)
    await _forgot(client, email)
    token = outbox.token(email, "reset")
    assert (await _reset(client, token, NEW_PASSWORD)).status_code == 200
    again = await _reset(client, token, "yet another password")
    assert again.status_code == 400
    assert again.json() == {"detail": "RESET_PASSWORD_BAD_TOKEN"}


async def test_reset_with_bad_token_is_400(client: httpx.AsyncClient) -> None:
    for token in ("not-a-token", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"):
        response = await _reset(client, token, NEW_PASSWORD)
        assert response.status_code == 400
        assert response.json() == {"detail": "RESET_PASSWORD_BAD_TOKEN"}


async def test_reset_with_invalid_password_is_400_and_keeps_the_old_one(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    email = unique_email()
    await register(client, email)
    tokens = await login_tokens(client, email)
    await _forgot(client, email)
    response = await _reset(client, outbox.token(email, "reset"), "short")
    assert response.status_code == 400
    assert response.json() == {
        "detail": {
            "code": "RESET_PASSWORD_INVALID_PASSWORD",
            "reason": "Password should be at least 8 characters",
        }
    }
    assert await me_status(client, bearer(tokens)) == 200
    await login_tokens(client, email)


async def test_verify_marks_the_user_verified(client: httpx.AsyncClient, outbox: Outbox) -> None:
    email = unique_email()
    await register(client, email)
    response = await client.post(
        "/api/v1/auth/verify", json={"token": outbox.token(email, "confirm")}
    )
    assert response.status_code == 200
    assert response.json()["is_verified"] is True
    assert response.json()["email"] == email
    assert (await User.get(email=email)).is_verified


async def test_request_verify_token_mails_a_new_token(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    email = unique_email()
    await register(client, email)
    outbox.messages.clear()
    response = await client.post("/api/v1/auth/request-verify-token", json={"email": email})
    assert response.status_code == 202
    token = outbox.token(email, "confirm")
    assert token not in response.text
    verified = await client.post("/api/v1/auth/verify", json={"token": token})
    assert verified.json()["is_verified"] is True


async def test_request_verify_token_for_unknown_or_verified_email_is_202_without_mail(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    email = unique_email()
    await register(client, email)
    await User.filter(email=email).update(is_verified=True)
    outbox.messages.clear()
    for address in ("nobody@example.com", email):
        response = await client.post("/api/v1/auth/request-verify-token", json={"email": address})
        assert response.status_code == 202
    assert outbox.messages == []


async def test_verify_twice_is_400_already_verified(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    email = unique_email()
    await register(client, email)
    token = outbox.token(email, "confirm")
    await client.post("/api/v1/auth/verify", json={"token": token})
    response = await client.post("/api/v1/auth/verify", json={"token": token})
    assert response.status_code == 400
    assert response.json() == {"detail": "VERIFY_USER_ALREADY_VERIFIED"}


async def test_verify_with_bad_token_is_400(client: httpx.AsyncClient, outbox: Outbox) -> None:
    email = unique_email()
    await register(client, email)
    await _forgot(client, email)
    # A reset token is signed with the same key but is not a verify token.
    for token in ("not-a-token", outbox.token(email, "reset")):
        response = await client.post("/api/v1/auth/verify", json={"token": token})
        assert response.status_code == 400
        assert response.json() == {"detail": "VERIFY_USER_BAD_TOKEN"}
    assert not (await User.get(email=email)).is_verified


async def test_forgot_password_for_unknown_email_still_hashes(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    real_hash = PasswordHelper.hash

    def spy(self: PasswordHelper, password: str) -> str:
        hashed.append(password)
        return real_hash(self, password)

    monkeypatch.setattr(PasswordHelper, "hash", spy)
    response = await _forgot(client, "nobody@example.com")
    assert response.status_code == 202
    assert len(hashed) == 1  # as many as the reset token's fingerprint costs a known email


async def test_mails_without_a_web_client_name_routes_that_exist_and_no_link(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    """The default (no MAIL_LINK_BASE_URL): no link to a page nobody serves; the mail names
    the API route that takes the token, and that route answers POST."""
    email = unique_email()
    await register(client, email)
    assert (await _forgot(client, email)).status_code == 202
    await client.post("/api/v1/auth/request-verify-token", json={"email": email})
    mails = outbox.to(email)
    assert {("reset" in m.subject.lower(), "confirm" in m.subject.lower()) for m in mails} == {
        (True, False),
        (False, True),
    }
    for mail in mails:
        assert "http://" not in mail.body
        assert "https://" not in mail.body
        routes = re.findall(r"POST (/\S+)", mail.body)
        assert routes, mail.body
        for route in routes:
            # The route exists and refuses the token itself (a password the policy takes).
            probe = await client.post(route, json={"token": "not-a-token", **BODY_OF[route]})
            assert probe.status_code == 400, route
            assert probe.json()["detail"] == REFUSAL_OF[route], route
