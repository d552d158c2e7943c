"""An email matches only itself (after trimming, lower case and NFC) on every database:
MySQL's default collations would match `víctim@` to `victim@`, and each accented variant
had its own rate-limit bucket while it logged in to the same account."""

from __future__ import annotations

import unicodedata
from typing import Any

import httpx
import pytest

from app.auth.models import User
from tests.conftest import PASSWORD
from tests.users.conftest import register

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects

VICTIM = "victim@example.com"
VARIANTS = ("víctim@example.com", "vîctim@example.com", "vi\u0301ctim@example.com")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"RATE_LIMIT_LOGIN_PER_EMAIL_IP": 3, "RATE_LIMIT_LOGIN_PER_IP": 100}


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/jwt/login", data={"username": email, "password": password}
    )


async def test_accented_variants_do_not_log_in_to_the_account(client: httpx.AsyncClient) -> None:
    assert (await register(client, VICTIM)).status_code == 201
    for variant in VARIANTS:
        response = await _login(client, variant, PASSWORD)
        assert response.status_code == 400, (variant, response.text)
        assert response.json() == {"detail": "LOGIN_BAD_CREDENTIALS"}


async def test_accented_variants_share_no_bucket_with_the_account(
    client: httpx.AsyncClient,
) -> None:
    """Guesses at the account are counted in its own bucket, whatever spelling they use:
    a variant reaches a different (absent) account, never a fresh bucket for this one."""
    assert (await register(client, VICTIM)).status_code == 201
    for _ in range(3):
        assert (await _login(client, VICTIM, "wrong password")).status_code == 400
    assert (await _login(client, VICTIM, PASSWORD)).status_code == 429
    # The variants are other addresses: they neither log in nor reset the count.
    for variant in VARIANTS:
        assert (await _login(client, variant, PASSWORD)).status_code == 400
    assert (await _login(client, VICTIM, PASSWORD)).status_code == 429


async def test_an_accented_address_is_its_own_account(client: httpx.AsyncClient) -> None:
    assert (await register(client, VICTIM)).status_code == 201
    other = await register(client, "víctim@example.com", "another password 123")
    assert other.status_code == 201, other.text
    assert await User.all().count() == 2


async def test_precomposed_and_combining_accents_are_one_address(
    client: httpx.AsyncClient,
) -> None:
    decomposed = unicodedata.normalize("NFD", "Zoë@example.com")
    created = await register(client, decomposed)
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "zoë@example.com"
    assert (await _login(client, "ZOË@example.com", PASSWORD)).status_code == 200
    again = await register(client, "zoë@example.com")
    assert again.json() == {"detail": "REGISTER_USER_ALREADY_EXISTS"}
