"""A deleted user leaves no id in the audit trail: not in the rows stored before, nor in the
entries still queued in a writer, nor in a batch being written while it is deleted, on this
worker or another, whether the API or the command line deletes it."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.audit import service
from app.audit.models import AuditLog
from app.audit.writer import AuditEntry, AuditWriter
from app.auth.models import User
from settings import BASE_DIR, Settings
from tests.conftest import PASSWORD, TEST_SECRET_KEY, unique_email
from tests.users.conftest import bearer, login_tokens, register
from tests.users.test_two_instances import second_instance

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects

# The background flush stays out of the way; the tests write with writer.flush().
QUIET = {"AUDIT_FLUSH_INTERVAL_MS": 60_000}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(QUIET)


async def _user(client: httpx.AsyncClient) -> tuple[uuid.UUID, dict[str, str]]:
    email = unique_email()
    assert (await register(client, email)).status_code == 201
    tokens = await login_tokens(client, email)
    return (await User.get(email=email)).id, bearer(tokens)


async def _requests(client: httpx.AsyncClient, headers: dict[str, str], count: int) -> None:
    for _ in range(count):
        assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200


async def _rows_naming(user_id: uuid.UUID) -> int:
    return await AuditLog.filter(user_id=user_id).count()


async def test_entries_queued_before_deregistration_keep_no_user_id(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    writer: AuditWriter = app.state.audit_writer
    user_id, headers = await _user(client)
    await writer.flush()
    await _requests(client, headers, 5)
    assert writer.queued == 5
    deleted = await client.request(
        "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=headers
    )
    assert deleted.status_code == 204
    await writer.flush()
    assert await AuditLog.filter(path="/api/v1/users/me").count() == 6
    assert await _rows_naming(user_id) == 0


async def test_a_batch_being_written_while_the_user_is_deleted_keeps_no_user_id(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer: AuditWriter = app.state.audit_writer
    admin_id, admin = await _user(client)
    await User.filter(id=admin_id).update(is_superuser=True)
    user_id, headers = await _user(client)
    await writer.flush()
    await _requests(client, headers, 3)

    writing, deleted = asyncio.Event(), asyncio.Event()
    real_insert = writer.insert_rows

    async def insert_after_the_deletion(batch: list[AuditEntry]) -> None:
        writing.set()
        await deleted.wait()  # the rows land after the deletion cleared the table
        await real_insert(batch)

    monkeypatch.setattr(writer, "insert_rows", insert_after_the_deletion)
    flushing = asyncio.create_task(writer.flush())
    async with asyncio.timeout(5):
        await writing.wait()
    response = await client.delete(f"/api/v1/users/{user_id}", headers=admin)
    assert response.status_code == 204
    deleted.set()
    async with asyncio.timeout(5):
        await flushing
    monkeypatch.undo()
    await writer.flush()
    assert await AuditLog.filter(path="/api/v1/users/me").count() == 3
    assert await _rows_naming(user_id) == 0


@pytest.mark.parametrize("backend", ["postgres", "mysql"], indirect=True)
async def test_another_workers_queued_entries_keep_no_user_id(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, headers = await _user(client)
    async with second_instance(settings, monkeypatch) as (other_app, other):
        other_writer: AuditWriter = other_app.state.audit_writer
        await _requests(other, headers, 4)
        assert other_writer.queued == 4
        deleted = await client.request(
            "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=headers
        )
        assert deleted.status_code == 204
        await other_writer.flush()
    assert await AuditLog.filter(path="/api/v1/users/me").count() == 4
    assert await _rows_naming(user_id) == 0


@pytest.mark.slow  # runs the CLI in a process of its own
@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_deletion_by_the_command_line_reaches_the_queued_entries(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    """SQLite: the command line shares no store with the server; the writer finds the user
    gone from the table. PostgreSQL: with Redis, the mark."""
    writer: AuditWriter = app.state.audit_writer
    user_id, headers = await _user(client)
    await _requests(client, headers, 3)
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": settings.DATABASE_URL,
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": TEST_SECRET_KEY,
    }
    email = (await User.get(id=user_id)).email
    process = await asyncio.create_subprocess_exec(
        sys.executable, "run.py", "users", "delete", email, "--yes", cwd=BASE_DIR, env=env
    )
    async with asyncio.timeout(60):
        assert await process.wait() == 0
    await writer.flush()
    assert await AuditLog.filter(path="/api/v1/users/me").count() == 3
    assert await _rows_naming(user_id) == 0


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_marked_user_counts_as_deleted_before_its_row_is_gone(app: FastAPI) -> None:
    """The mark is what closes the race with a deletion still in its transaction."""
    alive, marked = uuid.uuid4(), uuid.uuid4()

    async def existing(ids: set[uuid.UUID]) -> set[uuid.UUID]:
        return set(ids)  # both still in the user table

    await service.mark_deleted_user(user_id=marked, store=app.state.store)
    gone = await service.deleted_among({alive, marked}, store=app.state.store, existing=existing)
    assert gone == {marked}


async def test_a_failed_deletion_leaves_the_user_its_audit_rows(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deletion whose transaction fails removes its mark: the account stays, and so does
    its id in the rows it makes afterwards (not nulled for the mark's lifetime)."""
    writer: AuditWriter = app.state.audit_writer
    admin_id, admin = await _user(client)
    await User.filter(id=admin_id).update(is_superuser=True)
    user_id, headers = await _user(client)

    async def deadlock(**_: Any) -> int:
        raise RuntimeError("deadlock detected")

    with monkeypatch.context() as patch:
        patch.setattr(service, "detach_user", deadlock)  # a step inside the transaction
        response = await client.delete(f"/api/v1/users/{user_id}", headers=admin)
    assert response.status_code == 500
    assert await User.exists(id=user_id)
    assert await app.state.store.get(service.deleted_user_key(user_id)) is None
    await _requests(client, headers, 3)
    await writer.flush()
    assert await AuditLog.filter(path="/api/v1/users/me", user_id=user_id).count() == 3


async def test_a_stalled_store_holds_no_batch_up_and_the_table_still_decides(
    client: httpx.AsyncClient,
    app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis times out on every read: the first batch pays one timeout, the breaker skips
    the store for the next ones, and a user deleted while the store was down (no mark)
    still leaves no id, from the user table."""
    stall = 1.0  # stands for the store's socket timeout (2 s)
    writer: AuditWriter = app.state.audit_writer
    kept_id, kept = await _user(client)
    gone_id, gone = await _user(client)
    await writer.flush()
    for _ in range(6):
        await _requests(client, kept, 1)
        await _requests(client, gone, 1)
    await User.filter(id=gone_id).delete()  # deleted with the store down: no mark
    reads = 0

    async def timing_out(_keys: list[str]) -> list[bytes | None]:
        nonlocal reads
        reads += 1
        await asyncio.sleep(stall)
        raise RedisTimeoutError("Timeout reading from socket")

    monkeypatch.setattr(app.state.store, "get_many", timing_out)
    monkeypatch.setattr(writer, "batch_size", 4)  # the 12 entries in 3 batches
    started = time.monotonic()
    assert await writer.flush() == 12
    elapsed = time.monotonic() - started
    assert reads == 1
    assert elapsed < 2 * stall  # not 3 batches x (one or two) timeouts
    assert await AuditLog.filter(path="/api/v1/users/me", user_id=kept_id).count() == 6
    assert await AuditLog.filter(path="/api/v1/users/me", user_id=gone_id).count() == 0
    assert await AuditLog.filter(path="/api/v1/users/me").count() == 12
    warnings = [r for r in caplog.records if "marks not read" in r.getMessage()]
    assert len(warnings) == 1
