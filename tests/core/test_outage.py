"""A database that goes away mid-traffic: 503s in bounded time, no 500, self-recovery.

A TCP proxy owned by the test sits between the app and the real PostgreSQL or MySQL;
cutting it drops every open connection and refuses new ones, as a crashed or unreachable
server does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pymysql
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from tortoise.exceptions import IntegrityError, OperationalError

from app.audit.models import AuditLog
from app.http.errors import DATABASE_UNAVAILABLE, is_database_unavailable, unavailable_detail
from settings import Settings
from tests.conftest import register_and_login, unique_email

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to a target; `cut()` and `restore()` the link."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))

    async def cut(self) -> None:
        """Stop listening and reset every open connection."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()
        self._server = None

    async def restore(self) -> None:
        await self.start()  # same port: the app's URL stays right

    async def close(self) -> None:
        if self._server is not None:
            await self.cut()


@pytest.fixture(params=["postgres", "mysql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def real_db_url(prepared_databases: Callable[[str], str], backend: str) -> str:
    return prepared_databases(backend)  # migrates, with its own event loop: not async


@pytest.fixture
async def proxy(real_db_url: str) -> AsyncIterator[str]:
    """The backend's URL rerouted through a proxy (found again by `the_proxy`)."""
    real = urlsplit(real_db_url)
    assert real.hostname
    assert real.port
    link = CuttableProxy(real.hostname, real.port)
    await link.start()
    netloc = real.netloc.replace(f"{real.hostname}:{real.port}", f"127.0.0.1:{link.port}")
    PROXIES[netloc] = link
    try:
        yield urlunsplit(real._replace(netloc=netloc))
    finally:
        PROXIES.pop(netloc, None)
        await link.close()


PROXIES: dict[str, CuttableProxy] = {}


@pytest.fixture
def db_url(proxy: str) -> str:
    return proxy


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Short connect timeout so a refused or silent database fails fast.
    return {"DB_CONNECT_TIMEOUT_SECONDS": 2.0, "AUDIT_FLUSH_INTERVAL_MS": 100}


def the_proxy(settings: Settings) -> CuttableProxy:
    return PROXIES[urlsplit(settings.DATABASE_URL).netloc]


async def timed(call: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await call
    return response, time.monotonic() - started


async def wait_for(check: Callable[[], Awaitable[bool]], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.2)
    return False


@pytest.mark.usefixtures("app")
async def test_database_outage_answers_503_and_recovers(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    headers = await register_and_login(client, unique_email())
    created = await client.post(
        "/api/v1/study-records",
        json={"subject": "math", "title": "before", "minutes": 30, "studied_on": "2024-05-01"},
        headers=headers,
    )
    assert created.status_code == 201
    link = the_proxy(settings)

    await link.cut()
    try:
        health, _ = await timed(client.get("/api/health/check"))
        assert health.status_code == 200

        ready, took = await timed(client.get("/api/health/ready"))
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "unavailable"
        assert took < 3.0

        outage_paths = []
        for attempt in range(3):
            path = f"/api/v1/study-records?subject=outage{attempt}"
            outage_paths.append(path.split("?", 1)[0])
            listed, took = await timed(client.get(path, headers=headers))
            assert listed.status_code == 503, listed.text
            assert listed.json() == {"detail": DATABASE_UNAVAILABLE}
            assert "Traceback" not in listed.text
            assert took < 10.0

            count, took = await timed(client.get("/api/v1/users/count"))
            assert count.status_code in {200, 503}  # 200 only from its short cache
            assert took < 10.0
    finally:
        await link.restore()

    async def serves_again() -> bool:
        response = await client.get("/api/v1/study-records", headers=headers)
        return response.status_code == 200

    assert await wait_for(serves_again, 10.0), "no recovery within 10 s of the database return"
    records = (await client.get("/api/v1/study-records", headers=headers)).json()
    assert [item["title"] for item in records["items"]] == ["before"]  # nothing lost

    async def outage_audited() -> bool:
        rows = await AuditLog.filter(status_code=503, path="/api/v1/study-records").count()
        return rows >= 3

    assert await wait_for(outage_audited, 10.0), "audit entries from the outage were lost"


# --- the classification itself, on the exceptions each driver raises -----------------------


def test_connection_failures_are_unavailable() -> None:
    assert is_database_unavailable(ConnectionRefusedError(111, "refused"))
    assert is_database_unavailable(TimeoutError())
    assert is_database_unavailable(asyncpg.exceptions.ConnectionDoesNotExistError("gone"))
    assert is_database_unavailable(asyncpg.exceptions.CannotConnectNowError("starting"))
    assert is_database_unavailable(pymysql.err.OperationalError(2013, "Lost connection"))
    wrapped = OperationalError(pymysql.err.OperationalError(2006, "gone away"))
    assert is_database_unavailable(wrapped)
    assert is_database_unavailable(ExceptionGroup("many", [ValueError(), TimeoutError()]))

    assert not is_database_unavailable(IntegrityError("duplicate key"))
    assert not is_database_unavailable(pymysql.err.OperationalError(1054, "Unknown column"))
    assert not is_database_unavailable(OperationalError("syntax error"))
    assert not is_database_unavailable(RuntimeError("bug"))
    assert unavailable_detail(RuntimeError("bug")) is None
    assert unavailable_detail(RedisConnectionError("down")) == "Service Unavailable"
