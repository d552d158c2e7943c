"""The database side of bench/audit_scale.py, one class per server: the scratch database,
the fill, the day partitions the fill needs, and the writer's batch during the purge.

Both fill the same rows (`g` from a range of numbers): even rows on the oldest day (the one
the purge drops), odd rows spread over the days after it; every filter's matches spread
over all the days (each at least a fifth of the rows).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiomysql
import asyncpg
from tortoise import Tortoise

from app.audit import partitions
from app.audit.partitions import midnight, utc_today

ROUTES = (
    "/api/v1/study-records",
    "/api/v1/study-records/{record_id}",
    "/api/v1/users/me",
    "/api/v1/auth/jwt/login",
    "/api/v1/audit-logs",
)
COLUMNS = [
    "created_at",
    "request_id",
    "method",
    "path",
    "status_code",
    "duration_ms",
    "query",
    "response_bytes",
]


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def batch(count: int) -> list[tuple[Any, ...]]:
    """One batch as the writer sends it, made now."""
    moment = datetime.now(UTC)
    return [(moment, f"copy-{n}", "GET", "/c", 200, 1.0, "", 10) for n in range(count)]


PG_FILL = f"""
INSERT INTO audit_log (created_at, request_id, method, path, route, query, status_code,
                       duration_ms, client_ip, user_agent, user_id, response_bytes)
SELECT
    CASE WHEN g % 2 = 0 THEN $1::timestamptz + (g % 86400) * interval '1 second'
         ELSE $2::timestamptz + ((g * 7919) % ($3::bigint * 86400)) * interval '1 second' END,
    'bench-' || g,
    CASE WHEN g % 5 = 1 THEN 'POST' ELSE 'GET' END,
    CASE WHEN (g / 2) % 2 = 0 THEN '/api/v1/study-records/' || (g % 1000)
         ELSE '/api/v1/users/me' END,
    (ARRAY[{", ".join(f"'{r}'" for r in ROUTES)}])[1 + (g / 3) % 5],
    '',
    (ARRAY[200, 200, 201, 404, 401])[1 + (g / 7) % 5],
    1.5, '192.0.2.1', 'bench',
    ($4::uuid[])[1 + (g / 11) % 5],
    100
FROM generate_series($5::bigint, $6::bigint) AS g
"""  # noqa: S608  (the routes are this module's constants)


# The files of the named tables: each table, its indexes, its TOAST table and that one's index.
EVICTABLE = """
WITH t AS (SELECT oid, reltoastrelid FROM pg_class WHERE relname = ANY($1::text[]))
SELECT pg_relation_filepath(oid) AS path FROM (
    SELECT oid FROM t
    UNION SELECT reltoastrelid FROM t WHERE reltoastrelid <> 0
    UNION SELECT indexrelid FROM pg_index WHERE indrelid IN (SELECT oid FROM t)
    UNION SELECT indexrelid FROM pg_index
        WHERE indrelid IN (SELECT reltoastrelid FROM t WHERE reltoastrelid <> 0)
) AS r
WHERE pg_relation_filepath(oid) IS NOT NULL
"""


def _drop_cached(data: Path, paths: list[str]) -> int:
    """POSIX_FADV_DONTNEED on every file of each relation path under `data` (segments and
    forks); the bytes of those files, 0 where `data` is not here."""
    if not data.is_dir():
        return 0
    evicted = 0
    for path in paths:
        base = data / path
        for file in base.parent.glob(f"{base.name}*"):
            if file.name != base.name and file.name[len(base.name)] not in "._":
                continue  # another relation's number that starts with this one's
            fd = os.open(file, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
            evicted += file.stat().st_size
    return evicted


class Postgres:
    """PostgreSQL: generate_series, COPY, VACUUM ANALYZE."""

    label = "PostgreSQL"

    def __init__(self, server: str, name: str) -> None:
        self.server = server
        self.name = name
        self.url = with_database(server, name)
        self.conn: asyncpg.Connection | None = None

    async def recreate(self, *, drop_only: bool = False) -> None:
        conn = await asyncpg.connect(with_database(self.server, "postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            if not drop_only:
                await conn.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await conn.close()

    async def open(self) -> None:
        self.conn = await asyncpg.connect(self.url)

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()
            self.conn = None

    async def lay_out_days(self, days: int) -> None:
        """One partition per day of the fill (the migration's first partition holds the
        empty table's past)."""
        await partitions.drop_before(midnight(utc_today()))
        await partitions.ensure(back_days=days, ahead_days=14)

    async def fill(self, first: int, last: int, days: int, users: list[uuid.UUID]) -> None:
        assert self.conn is not None
        oldest = midnight(utc_today() - timedelta(days=days - 1))
        await self.conn.execute(
            PG_FILL, oldest, oldest + timedelta(days=1), days - 1, users, first, last
        )

    async def settle(self) -> None:
        """Old days as a live table has them: vacuumed (the visibility map lets counts
        read the indexes alone) and analyzed."""
        assert self.conn is not None
        await self.conn.execute("VACUUM ANALYZE audit_log", timeout=3600)
        await self.checkpoint()

    async def checkpoint(self) -> None:
        assert self.conn is not None
        await self.conn.execute("CHECKPOINT")

    async def quiesce(self, limit_s: float = 900) -> None:
        """Wait until no autovacuum worker runs on the server (a fill of millions of rows
        sets them off on its databases' tables for minutes), then write the dirty buffers
        out: what a measurement shares the machine with is the same for every size."""
        assert self.conn is not None
        deadline = time.monotonic() + limit_s
        for _ in range(int(limit_s)):
            busy = await self.conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
            )
            if not busy or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        await self.checkpoint()

    async def value(self, sql: str, *args: Any) -> Any:
        assert self.conn is not None
        return await self.conn.fetchval(sql.replace("%s", "$1"), *args)

    async def evict(self, tables: list[str]) -> int:
        """Ask the kernel to drop the cached pages of `tables`' files (their indexes, TOAST
        and forks included; clean after a checkpoint), as the files of a day retired after
        N days have long left the page cache: truncate() frees cached pages one by one
        before it frees the blocks. The bytes evicted; 0 where the server's data directory
        is not on this machine."""
        assert self.conn is not None
        data = await self.conn.fetchval("SHOW data_directory")
        paths = [row["path"] for row in await self.conn.fetch(EVICTABLE, tables)]
        return await asyncio.to_thread(_drop_cached, Path(data), paths)

    async def write(self, conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
        await conn.copy_records_to_table("audit_log", records=rows, columns=COLUMNS)

    async def writer_connection(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.url)

    async def close_writer(self, conn: asyncpg.Connection) -> None:
        await conn.close()


def _mysql_fill() -> str:
    routes = ", ".join(f"'{r}'" for r in ROUTES)
    digits = " CROSS JOIN ".join(f"bench_digits AS d{n}" for n in range(6))
    number = " + ".join(f"{10**n} * d{n}.n" for n in range(6))
    # MOD, not %: the statement goes through the driver's %(name)s parameters.
    return f"""
INSERT INTO audit_log (created_at, request_id, method, path, route, query, status_code,
                       duration_ms, client_ip, user_agent, user_id, response_bytes)
SELECT
    IF(MOD(g, 2) = 0, %(oldest)s + INTERVAL MOD(g, 86400) SECOND,
       %(second)s + INTERVAL MOD(g * 7919, %(later_days)s * 86400) SECOND),
    CONCAT('bench-', g),
    IF(MOD(g, 5) = 1, 'POST', 'GET'),
    IF(MOD(g DIV 2, 2) = 0, CONCAT('/api/v1/study-records/', MOD(g, 1000)), '/api/v1/users/me'),
    ELT(1 + MOD(g DIV 3, 5), {routes}),
    '',
    ELT(1 + MOD(g DIV 7, 5), 200, 200, 201, 404, 401),
    1.5, '192.0.2.1', 'bench',
    ELT(1 + MOD(g DIV 11, 5), %(u0)s, %(u1)s, %(u2)s, %(u3)s, %(u4)s),
    100
FROM (SELECT %(first)s + {number} AS g FROM {digits}) AS numbers
WHERE g <= %(last)s
"""  # noqa: S608  (constants; the values are the driver's parameters)


class MySQL:
    """MySQL/MariaDB: numbers from a cross join of digits, ANALYZE TABLE, one INSERT per
    writer batch (as the app's writer sends it there)."""

    label = "MySQL"

    def __init__(self, server: str, name: str) -> None:
        self.server = server
        self.name = name
        self.url = with_database(server, name)
        self.conn: aiomysql.Connection | None = None

    def _connect_args(self, database: str | None) -> dict[str, Any]:
        parts = urlsplit(self.server)
        return {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 3306,
            "user": parts.username or "root",
            "password": parts.password or "",
            "db": database,
            "autocommit": True,
        }

    async def recreate(self, *, drop_only: bool = False) -> None:
        conn = await aiomysql.connect(**self._connect_args(None))
        try:
            async with conn.cursor() as cur:
                await cur.execute(f"DROP DATABASE IF EXISTS `{self.name}`")
                if not drop_only:
                    await cur.execute(f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4")
        finally:
            conn.close()

    async def open(self) -> None:
        self.conn = await aiomysql.connect(**self._connect_args(self.name))
        await self.execute("DROP TABLE IF EXISTS bench_digits")
        await self.execute("CREATE TABLE bench_digits (n INT PRIMARY KEY)")
        await self.execute(
            "INSERT INTO bench_digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)"
        )

    async def close(self) -> None:
        if self.conn is not None:
            await self.execute("DROP TABLE IF EXISTS bench_digits")
            self.conn.close()
            self.conn = None

    async def execute(self, sql: str, args: Any = None) -> None:
        assert self.conn is not None
        async with self.conn.cursor() as cur:
            await cur.execute(sql, args)

    async def lay_out_days(self, days: int) -> None:
        """MySQL appends days only ahead (older times fall into the oldest partition): the
        migration's first partition is split into the fill's days."""
        today = utc_today()
        past = [today - timedelta(days=n) for n in range(days - 1, 0, -1)]
        parts = ", ".join(
            f"PARTITION p{d:%Y%m%d} VALUES LESS THAN ('{d + timedelta(days=1)} 00:00:00')"
            for d in past
        )
        await Tortoise.get_connection("default").execute_script(
            "ALTER TABLE audit_log REORGANIZE PARTITION p_legacy INTO ("
            f"PARTITION p_legacy VALUES LESS THAN ('{past[0]} 00:00:00'), {parts})"
        )
        await partitions.ensure(back_days=0, ahead_days=14)

    async def fill(self, first: int, last: int, days: int, users: list[uuid.UUID]) -> None:
        oldest = midnight(utc_today() - timedelta(days=days - 1)).replace(tzinfo=None)
        values: dict[str, Any] = {
            "oldest": oldest,
            "second": oldest + timedelta(days=1),
            "later_days": days - 1,
            "first": first,
            "last": last,
        }
        values.update({f"u{n}": str(user) for n, user in enumerate(users)})
        await self.execute(_mysql_fill(), values)

    async def settle(self) -> None:
        await self.execute("ANALYZE TABLE audit_log")

    async def evict(self, tables: list[str]) -> int:
        """Not done on MySQL (InnoDB's pages are its own buffer pool's, not the kernel's
        page cache's, where innodb_flush_method bypasses it): nothing evicted."""
        del tables
        return 0

    async def quiesce(self) -> None:
        """Nothing to wait for: InnoDB's background work after a fill is its purge of undo
        logs, which the fill's plain inserts leave little of."""

    async def checkpoint(self) -> None:
        """Nothing to do: InnoDB writes a dropped partition's pages no more."""

    async def value(self, sql: str, *args: Any) -> Any:
        assert self.conn is not None
        naive = [
            a.astimezone(UTC).replace(tzinfo=None) if isinstance(a, datetime) else a for a in args
        ]
        async with self.conn.cursor() as cur:
            await cur.execute(sql, naive or None)
            row = await cur.fetchone()
        return row[0] if row else None

    async def write(self, conn: aiomysql.Connection, rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join(["%s"] * len(COLUMNS))
        async with conn.cursor() as cur:
            await cur.executemany(
                f"INSERT INTO audit_log ({', '.join(COLUMNS)}) VALUES ({marks})",  # noqa: S608
                [(row[0].replace(tzinfo=None), *row[1:]) for row in rows],
            )

    async def writer_connection(self) -> aiomysql.Connection:
        return await aiomysql.connect(**self._connect_args(self.name))

    async def close_writer(self, conn: aiomysql.Connection) -> None:
        conn.close()
