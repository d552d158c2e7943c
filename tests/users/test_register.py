"""POST /auth/register (API.md, Accounts)."""

from __future__ import annotations

import httpx
import pytest

from app.auth.models import User
from app.users.adapter import TortoiseUserDatabase
from tests.conftest import PASSWORD, unique_email
from tests.users.conftest import USER_FIELDS, Outbox, register

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects


async def test_register_returns_the_user_without_password(client: httpx.AsyncClient) -> None:
    email = unique_email()
    response = await register(client, email, display_name="Ada")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["email"] == email
    assert body["display_name"] == "Ada"
    assert (body["is_active"], body["is_superuser"], body["is_verified"]) == (True, False, False)
    assert body["created_at"].endswith(("Z", "+00:00"))
    stored = await User.get(email=email)
    assert stored.hashed_password != PASSWORD
    assert PASSWORD not in response.text


async def test_register_cannot_make_a_superuser_or_verified_user(client: httpx.AsyncClient) -> None:
    """The flags are the server's: a body that sets one is refused (422), nothing stored."""
    email = unique_email()
    response = await register(client, email, is_superuser=True, is_verified=True, is_active=False)
    assert response.status_code == 422
    assert {tuple(p["loc"]) for p in response.json()["detail"]} == {
        ("body", "is_superuser"),
        ("body", "is_verified"),
        ("body", "is_active"),
    }
    assert not await User.filter(email=email).exists()
    response = await register(client, email)
    assert response.status_code == 201
    body = response.json()
    assert (body["is_active"], body["is_superuser"], body["is_verified"]) == (True, False, False)


async def test_register_mails_a_verify_token(client: httpx.AsyncClient, outbox: Outbox) -> None:
    email = unique_email()
    response = await register(client, email)
    token = outbox.token(email, "confirm")
    assert token not in response.text


@pytest.mark.parametrize("variant", [str.upper, str.title, lambda e: f"  {e}  "])
async def test_register_same_email_in_other_case_is_400(
    client: httpx.AsyncClient, variant: object
) -> None:
    email = unique_email()
    assert (await register(client, email)).status_code == 201
    response = await register(client, variant(email))  # type: ignore[operator]
    assert response.status_code == 400
    assert response.json() == {"detail": "REGISTER_USER_ALREADY_EXISTS"}
    assert await User.all().count() == 1


async def test_register_stores_the_email_lower_cased(client: httpx.AsyncClient) -> None:
    email = unique_email()
    response = await register(client, email.upper())
    assert response.json()["email"] == email
    assert await User.filter(email=email).exists()


async def test_register_race_past_the_check_is_400_not_500(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = unique_email()
    await register(client, email)

    async def nobody(*_: object) -> None:
        return None  # as if the other registration committed after the manager looked

    monkeypatch.setattr(TortoiseUserDatabase, "get_by_email", nobody)
    response = await register(client, email)
    assert response.status_code == 400
    assert response.json() == {"detail": "REGISTER_USER_ALREADY_EXISTS"}
    assert await User.all().count() == 1


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "Password should be at least 8 characters"),
        ("1234567", "Password should be at least 8 characters"),
        ("EMAIL", "Password should not be the email"),
    ],
)
async def test_register_with_invalid_password_is_400_with_reason(
    client: httpx.AsyncClient, password: str, reason: str
) -> None:
    email = unique_email()
    if password == "EMAIL":
        password = email.upper()
    response = await register(client, email, password)
    assert response.status_code == 400
    assert response.json() == {"detail": {"code": "REGISTER_INVALID_PASSWORD", "reason": reason}}
    assert await User.all().count() == 0


async def test_eight_character_password_is_enough(client: httpx.AsyncClient) -> None:
    assert (await register(client, unique_email(), "12345678")).status_code == 201
