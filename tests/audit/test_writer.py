"""The writer: batched, off the request path, bounded and lossless within its bound."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from tortoise import Tortoise

from app.audit.models import AuditLog
from app.audit.writer import AuditEntry, AuditWriter, DatabaseUnavailable
from app.main import create_app
from settings import Settings
from tests.conftest import clean_tables
from tests.fixtures import services

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects

# The background flush stays out of the way; tests write with writer.flush().
QUIET = {"AUDIT_FLUSH_INTERVAL_MS": 60_000}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(QUIET)


class Outage:
    """Makes the writer's inserts and its database ping fail, as a database that is down."""

    def __init__(self, writer: AuditWriter, monkeypatch: pytest.MonkeyPatch) -> None:
        self.down = True
        self.attempts = 0
        self.attempted = asyncio.Event()
        self.written = asyncio.Event()
        real_insert = writer.insert_rows

        async def insert(batch: list[AuditEntry]) -> None:
            self.attempts += 1
            self.attempted.set()
            if self.down:
                raise ConnectionRefusedError("database is down")
            await real_insert(batch)
            self.written.set()

        async def ping(_timeout_seconds: float) -> None:
            if self.down:
                raise ConnectionRefusedError("database is down")

        monkeypatch.setattr(writer, "insert_rows", insert)
        monkeypatch.setattr("app.audit.writer.ping_database", ping)


async def burst(client: httpx.AsyncClient, tag: str, count: int) -> list[str]:
    """`count` requests answered within a second in all; their request ids."""
    ids = [f"{tag}-{n}-{uuid.uuid4().hex[:8]}" for n in range(count)]
    async with asyncio.timeout(5):
        responses = await asyncio.gather(
            *(client.get("/nowhere", headers={"X-Request-ID": rid}) for rid in ids)
        )
    assert [r.status_code for r in responses] == [404] * count
    return ids


async def stored_ids(prefix: str) -> set[str]:
    rows = await AuditLog.filter(request_id__startswith=prefix).values_list("request_id", flat=True)
    return set(rows)


async def test_requests_are_queued_not_written_on_the_request_path(
    client: httpx.AsyncClient, writer: AuditWriter
) -> None:
    ids = await burst(client, "queued", 20)
    assert writer.queued == 20
    assert await stored_ids("queued-") == set()
    assert await writer.flush() == 20
    assert writer.queued == 0
    assert await stored_ids("queued-") == set(ids)


@pytest.mark.parametrize("settings_overrides", [{**QUIET, "AUDIT_BATCH_SIZE": 7}])
async def test_a_flush_writes_full_batches_with_one_insert_each(
    client: httpx.AsyncClient, writer: AuditWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    real_insert = writer.insert_rows

    async def counting_insert(batch: list[AuditEntry]) -> None:
        sizes.append(len(batch))
        await real_insert(batch)

    monkeypatch.setattr(writer, "insert_rows", counting_insert)
    ids = await burst(client, "batch", 16)
    await writer.flush()  # full batches may already be written: a full batch wakes the writer
    assert sizes == [7, 7, 2]
    assert await stored_ids("batch-") == set(ids)


async def test_requests_are_answered_while_the_database_write_hangs(
    client: httpx.AsyncClient, writer: AuditWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await burst(client, "hang", 1)
    release = asyncio.Event()
    real_insert = writer.insert_rows

    async def hanging_insert(batch: list[AuditEntry]) -> None:
        await release.wait()
        await real_insert(batch)

    monkeypatch.setattr(writer, "insert_rows", hanging_insert)
    stuck_flush = asyncio.create_task(writer.flush())
    await asyncio.sleep(0)  # the flush is now waiting on the database

    later = await burst(client, "hang", 20)  # would time out if requests awaited the write
    assert writer.queued == 21
    release.set()
    # A flush writes what was queued when it was called, not what came during its write.
    assert await stuck_flush == 1
    assert writer.queued == 20
    assert await writer.flush() == 20
    assert await stored_ids("hang-") == set(first + later)


@pytest.mark.parametrize("settings_overrides", [{"AUDIT_FLUSH_INTERVAL_MS": 100}])
async def test_a_steady_stream_is_written_in_batches_of_an_interval(
    client: httpx.AsyncClient, writer: AuditWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests keep coming while each batch is written: the background task still writes
    one batch per interval, not one per write of whatever arrived during the last."""
    sizes: list[int] = []
    real_insert = writer.insert_rows

    async def slow_insert(batch: list[AuditEntry]) -> None:
        sizes.append(len(batch))
        await asyncio.sleep(0.05)  # a database round trip under load
        await real_insert(batch)

    monkeypatch.setattr(writer, "insert_rows", slow_insert)
    ids: list[str] = []
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < 1.0:
        ids += await burst(client, "stream", 5)
        await asyncio.sleep(0.005)
    # At most one batch per interval (0.1 s) and the one under way; a writer that chased
    # the stream wrote one per 0.05 s write, whatever came during the last.
    assert 2 <= len(sizes) <= elapsed / 0.1 + 1, sizes
    await writer.flush()
    assert await stored_ids("stream-") == set(ids)


@pytest.mark.parametrize("settings_overrides", [{**QUIET, "AUDIT_QUEUE_MAX": 5}])
async def test_database_outage_keeps_entries_within_the_bound_and_counts_drops(
    client: httpx.AsyncClient,
    writer: AuditWriter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage(writer, monkeypatch)
    kept = await burst(client, "outage", 5)
    with pytest.raises(DatabaseUnavailable):
        await writer.flush()
    assert writer.stats() == {"queued": 5, "dropped": 0}

    with caplog.at_level(logging.WARNING, logger="app.audit"):
        await burst(client, "lost", 3)  # past the bound: answered, not kept
    assert writer.stats() == {"queued": 5, "dropped": 3}
    assert any("queue full" in r.getMessage() for r in caplog.records)

    ready = await client.get("/api/health/ready")
    assert ready.status_code == 200  # the database itself answers the health check

    outage.down = False
    assert await writer.flush() == 5
    assert await stored_ids("outage-") == set(kept)
    assert await stored_ids("lost-") == set()
    assert writer.stats() == {"queued": 0, "dropped": 3}


@pytest.mark.parametrize(
    "settings_overrides", [{"AUDIT_FLUSH_INTERVAL_MS": 10, "AUDIT_RETRY_MAX_SECONDS": 0.05}]
)
async def test_the_writer_retries_in_the_background_until_the_database_is_back(
    client: httpx.AsyncClient,
    writer: AuditWriter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage(writer, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="app.audit"):
        ids = await burst(client, "retry", 3)
        async with asyncio.timeout(5):
            while outage.attempts < 3:  # the background task keeps trying
                outage.attempted.clear()
                await outage.attempted.wait()
        assert writer.queued == 3
        outage.down = False
        async with asyncio.timeout(5):
            await outage.written.wait()  # by the background task's next retry
    assert writer.queued == 0
    assert await stored_ids("retry-") == set(ids)
    messages = [r.getMessage() for r in caplog.records]
    assert any("cannot write to the database" in m for m in messages)
    assert any("database back" in m for m in messages)


async def test_a_row_the_database_refuses_is_dropped_alone(
    client: httpx.AsyncClient, writer: AuditWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_insert = writer.insert_rows

    async def refusing_insert(batch: list[AuditEntry]) -> None:
        if any(entry["path"] == "/poison" for entry in batch):
            raise ValueError("value out of range")
        await real_insert(batch)

    monkeypatch.setattr(writer, "insert_rows", refusing_insert)
    before = await burst(client, "poison", 3)
    await client.get("/poison", headers={"X-Request-ID": "poison-bad"})
    after = await burst(client, "poison", 2)

    assert await writer.flush() == 5
    assert await stored_ids("poison-") == set(before + after)
    assert writer.stats() == {"queued": 0, "dropped": 1}


@pytest.fixture
def unstarted_app(settings: Settings) -> FastAPI:
    """An app whose lifespan the test runs itself (made here: create_app sets up logging)."""
    services.forget_dialect_caches()
    return create_app(settings)


async def test_stop_writes_the_queue_before_the_database_closes(
    settings: Settings, unstarted_app: FastAPI
) -> None:
    application = unstarted_app
    async with LifespanManager(application) as manager:
        await clean_tables()
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            ids = await burst(c, "stop", 10)
        assert application.state.audit_writer.queued == 10

    await Tortoise.init(config=settings.tortoise_config())
    try:
        assert await stored_ids("stop-") == set(ids)
    finally:
        await Tortoise.close_connections()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("settings_overrides", [{**QUIET, "AUDIT_SHUTDOWN_TIMEOUT_SECONDS": 0.3}])
async def test_stop_gives_up_on_a_database_that_stays_down(
    unstarted_app: FastAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    application = unstarted_app
    writer: AuditWriter = application.state.audit_writer
    with caplog.at_level(logging.ERROR, logger="app.audit"):
        async with asyncio.timeout(5):
            async with LifespanManager(application) as manager:
                Outage(writer, monkeypatch)
                transport = httpx.ASGITransport(app=manager.app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                    await burst(c, "gone", 4)
    assert writer.stats() == {"queued": 0, "dropped": 4}
    assert any("4 entries lost" in r.getMessage() for r in caplog.records)


async def test_enqueue_past_the_bound_never_waits() -> None:
    writer = AuditWriter(queue_max=2)
    for _ in range(5):
        writer.enqueue({"path": "/x"})
    assert writer.stats() == {"queued": 2, "dropped": 3}


def _entry(request_id: str, **changes: Any) -> AuditEntry:
    entry: AuditEntry = {
        "created_at": datetime(2026, 11, 26, 1, 2, 3, 456789, tzinfo=UTC),
        "request_id": request_id,
        "method": "GET",
        "path": "/api/v1/ünïcode/路径",
        "route": None,
        "query": "a=1&b=2",
        "status_code": 200,
        "duration_ms": 1.25,
        "client_ip": "2001:db8::1",
        "user_agent": None,
        "user_id": None,
        "response_bytes": 2**40,
    }
    return {**entry, **changes}


async def test_rows_are_written_as_given_and_by_copy_on_postgresql(
    backend: str,
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    writer: AuditWriter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL takes the batch as one COPY (no INSERT is run); every backend stores each
    value as it was queued, NULLs included; a row the database itself refuses (a NULL in
    a NOT NULL column) is dropped alone, the rest of its batch written."""
    me = uuid.UUID((await client.get("/api/v1/users/me", headers=user_headers)).json()["id"])
    await writer.flush()  # the request above is not part of this test's batch
    connection = Tortoise.get_connection("default")
    if backend == "postgres":

        async def no_insert(*args: object, **kwargs: object) -> None:
            raise AssertionError("INSERT used where COPY was expected")

        monkeypatch.setattr(connection, "execute_many", no_insert)
    entries = [
        _entry(f"copy-{n}", route=f"/r/{n}" if n else None, user_id=me if n else None)
        for n in range(3)
    ]
    entries.append(_entry("copy-bad", method=None))  # NOT NULL on every database
    for entry in entries:
        writer.enqueue(dict(entry))
    assert await writer.flush() == 3
    assert writer.stats() == {"queued": 0, "dropped": 1}
    stored = {
        row["request_id"]: row
        for row in await AuditLog.filter(request_id__startswith="copy-").values()
    }
    assert set(stored) == {"copy-0", "copy-1", "copy-2"}
    for entry in entries[:3]:
        row = stored[entry["request_id"]]
        assert {name: row[name] for name in entry} == entry
