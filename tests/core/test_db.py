"""The PostgreSQL pool's release hook: a full reset only for a connection left mid-transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from app.platform.db import reset_if_in_transaction


@pytest.fixture
def postgres_url(prepared_databases: Callable[[str], str]) -> str:
    # asyncpg wants postgresql:// and no Tortoise options.
    parts = urlsplit(prepared_databases("postgres"))
    return urlunsplit(parts._replace(scheme="postgresql", query=""))


@pytest.fixture
async def connection(postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(postgres_url)
    try:
        yield conn
    finally:
        await conn.close()


async def test_a_connection_left_in_a_transaction_is_rolled_back(
    connection: asyncpg.Connection,
) -> None:
    await connection.execute("BEGIN")
    await connection.execute("CREATE TEMPORARY TABLE scratch (n int)")
    assert connection.is_in_transaction()
    await reset_if_in_transaction(connection)
    assert not connection.is_in_transaction()
    # The rollback undid the table: nothing of that transaction leaks to the next user.
    missing = await connection.fetchval("SELECT to_regclass('pg_temp.scratch')")
    assert missing is None


async def test_a_clean_connection_is_released_without_a_round_trip(
    connection: asyncpg.Connection,
) -> None:
    await connection.execute("SET application_name = 'kept'")
    await reset_if_in_transaction(connection)
    # No RESET ALL was sent (the service sets no session state; this only shows the skip).
    assert await connection.fetchval("SHOW application_name") == "kept"
