"""The per-worker session cache: requests skip the database, and every change ends that.

A cached session is admitted without a database query, which the tests show by changing
the database behind the cache's back (a direct UPDATE no service would make): the cache
keeps answering until the user's key in Redis says otherwise. Every real change goes
through the services, which replace that key, so it is seen on every instance at once.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI
from redis.exceptions import ConnectionError as RedisConnectionError
from tortoise import timezone

from app.auth import sessions
from app.auth.models import AuthSession, User
from app.platform import ratelimit
from settings import Settings
from tests.conftest import PASSWORD, unique_email
from tests.users.conftest import bearer, login_tokens, me_status, register
from tests.users.test_two_instances import second_instance

REDIS_BACKENDS = pytest.mark.parametrize("backend", ["postgres", "mysql"], indirect=True)


async def _signed_in(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    email = unique_email()
    assert (await register(client, email)).status_code == 201
    return email, bearer(await login_tokens(client, email))


@REDIS_BACKENDS
async def test_a_cached_session_is_admitted_without_reading_the_database(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    email, headers = await _signed_in(client)
    assert await me_status(client, headers) == 200
    assert len(app.state.session_cache) == 1
    # Behind the services' back: only a request that reads the database would notice.
    await AuthSession.filter(user__email=email).delete()
    assert await me_status(client, headers) == 200
    await sessions.invalidate_cached_user(
        user_id=(await User.get(email=email)).id, store=app.state.store
    )
    assert await me_status(client, headers) == 401


@REDIS_BACKENDS
async def test_logout_ends_a_session_cached_by_another_instance(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, headers = await _signed_in(client)
    async with second_instance(settings, monkeypatch) as (other_app, other):
        assert await me_status(client, headers) == 200
        assert await me_status(other, headers) == 200
        assert len(app.state.session_cache) == len(other_app.state.session_cache) == 1
        assert (await other.post("/api/v1/auth/jwt/logout", headers=headers)).status_code == 204
        assert await me_status(client, headers) == 401
        assert await me_status(other, headers) == 401


@REDIS_BACKENDS
async def test_an_older_access_token_of_a_logged_out_session_is_refused(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()
    await register(client, email)
    tokens = await login_tokens(client, email)
    renewed = await client.post(
        "/api/v1/auth/jwt/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert renewed.status_code == 200
    old, new = bearer(tokens), bearer(renewed.json())
    assert await me_status(client, old) == 200
    assert await me_status(client, new) == 200
    assert (await client.post("/api/v1/auth/jwt/logout", headers=new)).status_code == 204
    assert await me_status(client, old) == 401


@REDIS_BACKENDS
async def test_demotion_by_a_superuser_shows_on_the_next_request_everywhere(
    client: httpx.AsyncClient,
    settings: Settings,
    superuser_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    email, headers = await _signed_in(client)
    user = await User.get(email=email)
    await User.filter(id=user.id).update(is_superuser=True)
    async with second_instance(settings, monkeypatch) as (_, other):
        assert (await other.get("/api/v1/users", headers=headers)).status_code == 200
        response = await client.patch(
            f"/api/v1/users/{user.id}", json={"is_superuser": False}, headers=superuser_headers
        )
        assert response.status_code == 200, response.text
        assert (await other.get("/api/v1/users", headers=headers)).status_code == 403


@REDIS_BACKENDS
@pytest.mark.parametrize(
    "change",
    [
        {"password": "an entirely new passphrase"},
        {"is_active": False},
    ],
)
async def test_password_change_and_deactivation_end_cached_sessions(
    client: httpx.AsyncClient,
    settings: Settings,
    superuser_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, object],
) -> None:
    email, headers = await _signed_in(client)
    user_id = (await User.get(email=email)).id
    async with second_instance(settings, monkeypatch) as (_, other):
        assert await me_status(other, headers) == 200
        response = await client.patch(
            f"/api/v1/users/{user_id}", json=change, headers=superuser_headers
        )
        assert response.status_code == 200, response.text
        assert await me_status(other, headers) == 401


@REDIS_BACKENDS
async def test_deregistration_ends_a_session_cached_by_another_instance(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, headers = await _signed_in(client)
    async with second_instance(settings, monkeypatch) as (_, other):
        assert await me_status(other, headers) == 200
        response = await client.request(
            "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=headers
        )
        assert response.status_code == 204, response.text
        assert await me_status(other, headers) == 401


@REDIS_BACKENDS
async def test_a_fill_never_overwrites_the_tombstone_of_a_change(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """A request that read the session before a change must not cache what it read."""
    email, headers = await _signed_in(client)
    user_id = (await User.get(email=email)).id
    await sessions.invalidate_cached_user(user_id=user_id, store=app.state.store)
    assert await me_status(client, headers) == 200
    assert len(app.state.session_cache) == 0
    assert await app.state.store.get(sessions.user_key(user_id)) == sessions.TOMBSTONE


@REDIS_BACKENDS
async def test_a_store_failure_clears_the_cache_and_reads_the_database(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    email, headers = await _signed_in(client)
    assert await me_status(client, headers) == 200
    assert len(app.state.session_cache) == 1

    async def unreachable(*_args: object, **_kwargs: object) -> None:
        raise RedisConnectionError("connection refused")

    monkeypatch.setattr(app.state.store, "get", unreachable)
    monkeypatch.setattr(app.state.store, "set", unreachable)
    assert await me_status(client, headers) == 200
    assert len(app.state.session_cache) == 0
    # Logged out while the store is unreachable: the database refuses the token at once.
    assert (await client.post("/api/v1/auth/jwt/logout", headers=headers)).status_code == 204
    assert await me_status(client, headers) == 401
    monkeypatch.undo()
    assert await me_status(client, headers) == 401
    assert await AuthSession.filter(user__email=email, revoked_at=None).count() == 0


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_without_redis_every_request_reads_the_database(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    email, headers = await _signed_in(client)
    assert app.state.session_cache is None
    assert await me_status(client, headers) == 200
    await AuthSession.filter(user__email=email).delete()
    assert await me_status(client, headers) == 401


@REDIS_BACKENDS
@pytest.mark.parametrize("settings_overrides", [{"AUTH_CACHE_SECONDS": 0}])
async def test_the_cache_can_be_turned_off(client: httpx.AsyncClient, app: FastAPI) -> None:
    email, headers = await _signed_in(client)
    assert app.state.session_cache is None
    assert await me_status(client, headers) == 200
    await AuthSession.filter(user__email=email).delete()
    assert await me_status(client, headers) == 401


async def test_the_cache_hands_out_copies_a_route_may_change(client: httpx.AsyncClient) -> None:
    email, _ = await _signed_in(client)
    user = await User.get(email=email)
    cache = sessions.SessionCache(60)
    session_id, token = uuid.uuid4(), b"fill"
    cache.put(session_id, token, user)
    user.display_name = "changed after the fill"
    first = cache.get(session_id, token)
    assert first is not None
    assert first is not user
    assert first.display_name == ""
    first.display_name = "changed by a route"
    second = cache.get(session_id, token)
    assert second is not None
    assert second is not first
    assert second.display_name == ""
    # A whole model: it saves as the one read from the database does.
    assert (second.pk, second.email, second._saved_in_db) == (user.pk, email, True)  # pylint: disable=protected-access  # Tortoise's saved state
    second.display_name = "saved from the copy"
    await second.save(update_fields=["display_name"])
    assert (await User.get(id=user.id)).display_name == "saved from the copy"
    assert cache.get(session_id, b"another fill") is None


async def _expired_entry(
    client: httpx.AsyncClient, app: FastAPI
) -> tuple[uuid.UUID, dict[str, str]]:
    """A signed-in user whose session entry has just expired: this worker's cache empty
    and the user's key gone from the store. Its id and the request headers."""
    email, headers = await _signed_in(client)
    user_id = (await User.get(email=email)).id
    app.state.session_cache.clear()
    await app.state.store.delete(sessions.user_key(user_id))
    return user_id, headers


async def _count_database_reads(
    monkeypatch: pytest.MonkeyPatch, read_done: asyncio.Event | None = None
) -> list[uuid.UUID]:
    """The sessions read from the database from now on, one entry per read, each added
    once its read is done (`read_done` set then)."""
    reads: list[uuid.UUID] = []
    read = sessions._session_user_from_database  # pylint: disable=protected-access

    async def counted(*, user_id: uuid.UUID, session_id: uuid.UUID) -> User | None:
        user = await read(user_id=user_id, session_id=session_id)
        reads.append(session_id)
        if read_done is not None:
            read_done.set()
        await asyncio.sleep(0.05)  # the others arrive while this read is under way
        return user

    monkeypatch.setattr(sessions, "_session_user_from_database", counted)
    return reads


@REDIS_BACKENDS
async def test_requests_of_one_session_share_the_fill_of_its_expired_entry(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy client's entry expiring must not send every request in flight to the
    database: one reads and fills, the others wait for it and are admitted from the cache."""
    _, headers = await _expired_entry(client, app)
    reads = await _count_database_reads(monkeypatch)
    answers = await asyncio.gather(*(me_status(client, headers) for _ in range(8)))
    assert answers == [200] * 8
    assert len(reads) == 1
    assert len(app.state.session_cache) == 1


@REDIS_BACKENDS
async def test_waiters_of_a_fill_still_see_a_change_made_meanwhile(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The requests that waited start over: a logout while the fill was under way leaves a
    tombstone, and they read the database (which refuses the session) instead of the cache."""
    user_id, headers = await _expired_entry(client, app)
    first_read = asyncio.Event()
    reads = await _count_database_reads(monkeypatch, first_read)

    async def log_out_meanwhile() -> None:
        await first_read.wait()  # the first read is done; its fill waits 50 ms to be made
        await AuthSession.filter(user_id=user_id).update(revoked_at=timezone.now())
        await sessions.invalidate_cached_user(user_id=user_id, store=app.state.store)

    *answers, _ = await asyncio.gather(
        *(me_status(client, headers) for _ in range(4)), log_out_meanwhile()
    )
    # The one that read before the logout is admitted; those that waited are not.
    assert sorted(answers) == [200, 401, 401, 401]
    assert len(reads) == 4
    assert len(app.state.session_cache) == 0


@REDIS_BACKENDS
async def test_counted_writes_of_one_session_share_the_fill_and_stay_counted(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The create's admission (session check and write count in one store round trip)
    waits for the fill under way too; every write is still counted once."""
    user_id, headers = await _expired_entry(client, app)
    reads = await _count_database_reads(monkeypatch)
    record = {"subject": "Math", "title": "t", "minutes": 5, "studied_on": "2026-01-02"}
    answers = await asyncio.gather(
        *(client.post("/api/v1/study-records", headers=headers, json=record) for _ in range(6))
    )
    assert [a.status_code for a in answers] == [201] * 6
    assert len(reads) == 1
    counted = await app.state.store.get(ratelimit.counter_name("write:user", str(user_id)))
    assert counted == b"6"
