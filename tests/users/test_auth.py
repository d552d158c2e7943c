"""Login, refresh, logout and what makes a token stop working (API.md, Accounts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi_users.password import PasswordHelper
from pwdlib.hashers.argon2 import Argon2Hasher
from redis.exceptions import ConnectionError as RedisConnectionError

from app.auth.models import AuthSession, RefreshToken, User
from app.users.passwords import PASSWORD_HELPER
from tests.conftest import PASSWORD, TEST_SECRET_KEY, unique_email
from tests.users.conftest import bearer, login_tokens, me_status, refresh, register


async def test_login_returns_access_and_refresh_token(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await register(client, email)
    tokens = await login_tokens(client, email)
    assert set(tokens) == {"access_token", "token_type", "refresh_token"}
    assert tokens["token_type"] == "bearer"
    assert await me_status(client, bearer(tokens)) == 200


async def test_access_token_is_hs256_with_unique_jti_and_session(client: httpx.AsyncClient) -> None:
    email = unique_email()
    user_id = (await register(client, email)).json()["id"]
    first, second = await login_tokens(client, email), await login_tokens(client, email)
    claims = [
        jwt.decode(
            t["access_token"], TEST_SECRET_KEY, algorithms=["HS256"], audience="fastapi-users:auth"
        )
        for t in (first, second)
    ]
    assert jwt.get_unverified_header(first["access_token"])["alg"] == "HS256"
    assert all(c["sub"] == user_id for c in claims)
    assert claims[0]["jti"] != claims[1]["jti"]
    assert claims[0]["sid"] != claims[1]["sid"]
    assert claims[0]["exp"] - claims[0]["iat"] == 3600


async def test_refresh_token_is_stored_hashed_only(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await register(client, email)
    tokens = await login_tokens(client, email)
    stored = await RefreshToken.all().values_list("token_hash", flat=True)
    assert len(stored) == 1
    assert tokens["refresh_token"] not in stored[0]
    assert len(stored[0]) == 64


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "known", "password": "wrong password"},
        {"username": "nobody@example.com", "password": PASSWORD},
    ],
    ids=["wrong-password", "unknown-email"],
)
async def test_bad_credentials_are_400(
    client: httpx.AsyncClient, credentials: dict[str, str]
) -> None:
    email = unique_email()
    await register(client, email)
    if credentials["username"] == "known":
        credentials = {**credentials, "username": email}
    response = await client.post("/api/v1/auth/jwt/login", data=credentials)
    assert response.status_code == 400
    assert response.json() == {"detail": "LOGIN_BAD_CREDENTIALS"}
    assert await AuthSession.all().count() == 0


async def test_inactive_user_cannot_log_in(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await register(client, email)
    await User.filter(email=email).update(is_active=False)
    response = await client.post(
        "/api/v1/auth/jwt/login", data={"username": email, "password": PASSWORD}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "LOGIN_BAD_CREDENTIALS"}


@pytest.mark.dialects
async def test_login_email_is_case_insensitive(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await register(client, email)
    tokens = await login_tokens(client, email.upper())
    assert await me_status(client, bearer(tokens)) == 200


async def test_unknown_email_login_still_hashes_the_password(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    real_hash = PasswordHelper.hash

    def spy(self: PasswordHelper, password: str) -> str:
        hashed.append(password)
        return real_hash(self, password)

    monkeypatch.setattr(PasswordHelper, "hash", spy)
    response = await client.post(
        "/api/v1/auth/jwt/login",
        data={"username": "nobody@example.com", "password": "guess-1234"},
    )
    assert response.status_code == 400
    assert hashed == ["guess-1234"]


@pytest.mark.dialects
async def test_refresh_rotates_and_spends_the_token(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await register(client, email)
    first = await login_tokens(client, email)
    response = await refresh(client, first["refresh_token"])
    assert response.status_code == 200
    second = response.json()
    assert set(second) == {"access_token", "token_type", "refresh_token"}
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert await me_status(client, bearer(second)) == 200
    third = await refresh(client, second["refresh_token"])
    assert third.status_code == 200


@pytest.mark.dialects
async def test_reusing_a_spent_refresh_token_revokes_the_whole_session(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()
    await register(client, email)
    first = await login_tokens(client, email)
    other_login = await login_tokens(client, email)
    second = (await refresh(client, first["refresh_token"])).json()

    reuse = await refresh(client, first["refresh_token"])
    assert reuse.status_code == 401
    assert reuse.json() == {"detail": "Unauthorized"}
    assert (await refresh(client, second["refresh_token"])).status_code == 401
    assert await me_status(client, bearer(second)) == 401
    assert await me_status(client, bearer(first)) == 401
    # Only that login ends: another session of the same user goes on.
    assert await me_status(client, bearer(other_login)) == 200


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 43])
async def test_unknown_refresh_token_is_401_or_422(client: httpx.AsyncClient, token: str) -> None:
    response = await refresh(client, token)
    assert response.status_code == (422 if token == "" else 401)


async def test_expired_refresh_token_is_401(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await register(client, email)
    tokens = await login_tokens(client, email)
    await RefreshToken.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await refresh(client, tokens["refresh_token"])).status_code == 401


@pytest.mark.dialects
async def test_logout_revokes_access_and_refresh_token(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await register(client, email)
    tokens = await login_tokens(client, email)
    other = await login_tokens(client, email)

    response = await client.post("/api/v1/auth/jwt/logout", headers=bearer(tokens))
    assert response.status_code == 204
    assert response.content == b""
    assert await me_status(client, bearer(tokens)) == 401
    assert (await refresh(client, tokens["refresh_token"])).status_code == 401
    logout_again = await client.post("/api/v1/auth/jwt/logout", headers=bearer(tokens))
    assert logout_again.status_code == 401
    assert await me_status(client, bearer(other)) == 200


async def test_logout_also_ends_access_tokens_from_earlier_refreshes(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()
    await register(client, email)
    first = await login_tokens(client, email)
    second = (await refresh(client, first["refresh_token"])).json()
    assert (await client.post("/api/v1/auth/jwt/logout", headers=bearer(second))).status_code == 204
    assert await me_status(client, bearer(first)) == 401


@pytest.mark.dialects
async def test_logged_out_token_stays_refused_when_the_store_forgets(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    email = unique_email()
    await register(client, email)
    tokens = await login_tokens(client, email)
    await client.post("/api/v1/auth/jwt/logout", headers=bearer(tokens))
    await _forget_everything(app)
    assert await me_status(client, bearer(tokens)) == 401
    assert (await refresh(client, tokens["refresh_token"])).status_code == 401


@pytest.mark.dialects
async def test_tokens_work_and_revocation_holds_while_the_store_is_down(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = unique_email()
    await register(client, email)
    kept, ended = await login_tokens(client, email), await login_tokens(client, email)
    await client.post("/api/v1/auth/jwt/logout", headers=bearer(ended))

    async def down(*args: object, **kwargs: object) -> None:
        raise RedisConnectionError("store is down")

    for name in ("get", "set", "exists", "delete", "hit"):
        monkeypatch.setattr(app.state.store, name, down)
    assert await me_status(client, bearer(kept)) == 200
    assert await me_status(client, bearer(ended)) == 401
    # Logging out while the store is down still ends the session.
    assert (await client.post("/api/v1/auth/jwt/logout", headers=bearer(kept))).status_code == 204
    assert await me_status(client, bearer(kept)) == 401


async def _forget_everything(app: FastAPI) -> None:
    store = app.state.store
    if store.name == "redis":
        await store.client.flushdb()
    else:
        store._data.clear()  # pylint: disable=protected-access  # the in-process store's only reset


def _token(claims: dict[str, object], key: str = TEST_SECRET_KEY, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


async def test_forged_expired_and_malformed_access_tokens_are_401(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()
    await register(client, email)
    tokens = await login_tokens(client, email)
    good = jwt.decode(
        tokens["access_token"], TEST_SECRET_KEY, algorithms=["HS256"], audience="fastapi-users:auth"
    )
    now = datetime.now(UTC)
    bad_tokens = {
        "other key": _token(good, key="another-secret-key-that-is-also-long-enough-0123"),
        "expired": _token(
            {**good, "iat": now - timedelta(hours=2), "exp": now - timedelta(hours=1)}
        ),
        "no session": _token({k: v for k, v in good.items() if k != "sid"}),
        "unknown session": _token({**good, "sid": "00000000-0000-0000-0000-000000000000"}),
        "session not a uuid": _token({**good, "sid": "not-a-uuid"}),
        "subject not a uuid": _token({**good, "sub": "not-a-uuid"}),
        "wrong audience": _token({**good, "aud": "fastapi-users:verify"}),
        "unsigned": jwt.encode(good, None, algorithm="none"),  # type: ignore[arg-type]
        "garbage": "not.a.jwt",
    }
    for name, token in bad_tokens.items():
        response = await client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, name
        assert response.json() == {"detail": "Unauthorized"}, name
    assert (await client.get("/api/v1/users/me")).status_code == 401
    assert await me_status(client, bearer(tokens)) == 200


async def test_another_users_session_id_does_not_authenticate(client: httpx.AsyncClient) -> None:
    alice, bob = unique_email("alice"), unique_email("bob")
    await register(client, alice)
    bob_id = (await register(client, bob)).json()["id"]
    alice_tokens = await login_tokens(client, alice)
    claims = jwt.decode(
        alice_tokens["access_token"],
        TEST_SECRET_KEY,
        algorithms=["HS256"],
        audience="fastapi-users:auth",
    )
    # Even with the signing key, pairing Alice's session with Bob's id is refused.
    forged = _token({**claims, "sub": bob_id})
    assert await me_status(client, {"Authorization": f"Bearer {forged}"}) == 401


def test_production_hashing_parameters() -> None:
    hashed = PASSWORD_HELPER.hash(PASSWORD)
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD_HELPER.verify_and_update(PASSWORD, hashed) == (True, None)


async def test_login_rehashes_a_password_stored_with_other_parameters(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()
    await register(client, email)
    legacy = Argon2Hasher().hash(PASSWORD)  # the library default: 64 MiB, 4 lanes
    await User.filter(email=email).update(hashed_password=legacy)
    await login_tokens(client, email)
    stored = (await User.get(email=email)).hashed_password
    assert stored != legacy
    assert stored.startswith("$argon2id$")
    assert "m=65536" not in stored
    await login_tokens(client, email)  # the new hash verifies
