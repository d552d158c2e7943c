"""The audit trail at scale: page costs that do not grow with the table, the purge of a big
day, and COPY into the day-partitioned table (PostgreSQL).

    .venv/bin/python bench/audit_scale.py [--sizes 100000,1000000,10000000] [--repeat 30]

On a scratch database (BENCH_POSTGRES_URL's server, default
postgres://postgres@127.0.0.1:5432/postgres; made, migrated, dropped at the end) it fills the
audit table with generate_series up to each size in turn, spread over DAYS UTC days with
half of the rows on the oldest day, and after each fill measures, through the app in this
process (the real routes, dependencies and SQL; no network), the median of `--repeat`
sequential requests: page 1 and each filter of GET /api/v1/audit-logs (every filter has at
least 20,000 matches from 100,000 rows on, so the capped count costs the same at every
size), the cursor pages 1, 100 and 1,000, GET by id, and the count part of a page alone.
Then COPY rows/s into the partitioned parent against a plain table with the same indexes
(batches of 500 rows, as the writer sends them, alternating), and last the purge of the
oldest day while a writer COPYs a batch every 10 ms and a reader pages: its seconds, the
writer's longest batch, and the rows of the other days before and after.

Targets (issue 23): every page at the largest size within 1.2 x its time at the smallest;
the count part at most 5 ms; the purge under a second with 0 rows lost elsewhere and no
writer batch over a second; COPY into the parent at least 0.9 x into a plain table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from asgi_lifespan import LifespanManager

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# pylint: disable=wrong-import-position  # the repository root goes on the path first
from app.audit import partitions, service
from app.audit.partitions import midnight, utc_today
from app.audit.schemas import AuditLogFilters
from app.auth.models import User
from app.main import create_app
from app.platform import migrations
from app.platform.db import capped_count
from settings import Settings

DAYS = 7
USERS = [uuid.UUID(int=n + 1) for n in range(5)]
EMAIL = "audit-bench@example.com"
PASSWORD = "audit bench password 123"  # noqa: S105
LIST = "/api/v1/audit-logs?page=1&size=50"
CURSOR = "/api/v1/audit-logs/cursor?size=50"
SHAPES = {
    "page 1": LIST,
    "user_id": f"{LIST}&user_id={USERS[1]}",
    "route": f"{LIST}&route=/api/v1/users/me",
    "status_code=404": f"{LIST}&status_code=404",
    "path_prefix": f"{LIST}&path_prefix=/api/v1/study-records",
    "method=POST": f"{LIST}&method=POST",
}
FILTERS = {
    "none": AuditLogFilters(),
    "user_id": AuditLogFilters(user_id=USERS[1]),
    "route": AuditLogFilters(route="/api/v1/users/me"),
    "status_code=404": AuditLogFilters(status_code=404),
    "path_prefix": AuditLogFilters(path_prefix="/api/v1/study-records"),
}

# Even rows on the oldest day (the one the purge drops), odd rows over the days after it;
# every filter's matches are spread over all the days (each at least a fifth of the rows).
FILL = """
INSERT INTO audit_log (created_at, request_id, method, path, route, query, status_code,
                       duration_ms, client_ip, user_agent, user_id, response_bytes)
SELECT
    CASE WHEN g % 2 = 0 THEN $1::timestamptz + (g % 86400) * interval '1 second'
         ELSE $2::timestamptz + ((g * 7919) % ($3::bigint * 86400)) * interval '1 second' END,
    'bench-' || g,
    CASE WHEN g % 5 = 1 THEN 'POST' ELSE 'GET' END,
    CASE WHEN (g / 2) % 2 = 0 THEN '/api/v1/study-records/' || (g % 1000)
         ELSE '/api/v1/users/me' END,
    (ARRAY['/api/v1/study-records', '/api/v1/study-records/{record_id}', '/api/v1/users/me',
           '/api/v1/auth/jwt/login', '/api/v1/audit-logs'])[1 + (g / 3) % 5],
    '',
    (ARRAY[200, 200, 201, 404, 401])[1 + (g / 7) % 5],
    1.5, '192.0.2.1', 'bench',
    ($4::uuid[])[1 + (g / 11) % 5],
    100
FROM generate_series($5::bigint, $6::bigint) AS g
"""
COUNT_BEFORE = "SELECT count(*) FROM audit_log WHERE created_at < $1"
COUNT_FROM = "SELECT count(*) FROM audit_log WHERE created_at >= $1"
ANY_ID = "SELECT id FROM audit_log WHERE request_id = 'bench-77'"
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


async def recreate(server: str, name: str, *, drop_only: bool = False) -> None:
    conn = await asyncpg.connect(with_database(server, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def median_ms(client: httpx.AsyncClient, url: str, headers: dict[str, str], n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = await client.get(url, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
    return statistics.median(times)


async def cursor_of_page(client: httpx.AsyncClient, headers: dict[str, str], page: int) -> str:
    url, cursor = CURSOR, ""
    for _ in range(page - 1):
        body = (await client.get(url, headers=headers)).json()
        cursor = body["next_page"]
        url = f"{CURSOR}&cursor={cursor}"
    return url


async def count_ms(filters: AuditLogFilters, n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        await capped_count(service.matching(filters), service.TOTAL_CAP + 1)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def measure(
    client: httpx.AsyncClient, headers: dict[str, str], repeat: int, any_id: int
) -> dict[str, float]:
    found = {name: await median_ms(client, url, headers, repeat) for name, url in SHAPES.items()}
    for page in (1, 100, 1000):
        url = await cursor_of_page(client, headers, page)
        found[f"cursor page {page}"] = await median_ms(client, url, headers, repeat)
    found["GET by id"] = await median_ms(client, f"/api/v1/audit-logs/{any_id}", headers, repeat)
    for name, filters in FILTERS.items():
        found[f"count part ({name})"] = await count_ms(filters, repeat)
    return found


def copy_rows(count: int, moment: datetime) -> list[tuple[object, ...]]:
    return [(moment, f"copy-{n}", "GET", "/c", 200, 1.0, "", 10) for n in range(count)]


async def copy_rate(conn: asyncpg.Connection, table: str, rows: int) -> float:
    batch = copy_rows(500, datetime.now(UTC))
    start = time.perf_counter()
    for _ in range(rows // 500):
        await conn.copy_records_to_table(table, records=batch, columns=COLUMNS)
    return rows / (time.perf_counter() - start)


async def compare_copy(url: str) -> tuple[float, float]:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP TABLE IF EXISTS audit_plain")
        await conn.execute(
            "CREATE TABLE audit_plain (LIKE audit_log INCLUDING DEFAULTS INCLUDING INDEXES)"
        )
        parent, plain = [], []
        for _ in range(3):
            parent.append(await copy_rate(conn, "audit_log", 50_000))
            plain.append(await copy_rate(conn, "audit_plain", 50_000))
        await conn.execute("DROP TABLE audit_plain")
        return statistics.median(parent), statistics.median(plain)
    finally:
        await conn.close()


async def purge_under_load(
    url: str, client: httpx.AsyncClient, headers: dict[str, str]
) -> dict[str, float]:
    cutoff = midnight(utc_today() - timedelta(days=DAYS - 2))
    conn = await asyncpg.connect(url)
    stop = asyncio.Event()
    batches: list[float] = []
    written = 0

    async def writer() -> None:
        nonlocal written
        while not stop.is_set():
            start = time.perf_counter()
            await conn.copy_records_to_table(
                "audit_log", records=copy_rows(500, datetime.now(UTC)), columns=COLUMNS
            )
            batches.append(time.perf_counter() - start)
            written += 500
            await asyncio.sleep(0.01)

    async def reader() -> None:
        while not stop.is_set():
            await client.get(LIST, headers=headers)

    try:
        big_day = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE created_at < $1", cutoff
        )
        others = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE created_at >= $1", cutoff
        )
        tasks = [asyncio.create_task(writer()), asyncio.create_task(reader())]
        await asyncio.sleep(1)
        before_purge = len(batches)
        start = time.perf_counter()
        report = await service.purge(older_than_days=DAYS - 2)
        seconds = time.perf_counter() - start
        during = batches[before_purge:] or [0.0]
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*tasks)
        after = await conn.fetchval(COUNT_FROM, cutoff)
    finally:
        await conn.close()
    return {
        "day rows": big_day,
        "partitions dropped": len(report.partitions),
        "purge seconds": seconds,
        "longest writer batch during purge (s)": max(during),
        "rows lost from other days": others + written - after,
    }


async def main() -> int:  # pylint: disable=too-many-locals  # one linear script
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    name = f"studylog_audit_scale_{os.getpid()}"
    await recreate(server, name)
    url = with_database(server, name)
    try:
        await migrations.upgrade(url)
        settings = Settings(
            DATABASE_URL=url,
            SECRET_KEY=secrets.token_urlsafe(48),
            AUDIT_ENABLED=False,  # the bench's own requests stay out of the table it measures
            REDIS_URL="",
        )
        app = create_app(settings)
        async with LifespanManager(app):
            # Days before today get partitions of their own (the migration's first partition
            # holds the empty table's past).
            await partitions.drop_before(midnight(utc_today()))
            await partitions.ensure(back_days=DAYS, ahead_days=14)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                reply = await client.post(
                    "/api/v1/auth/register", json={"email": EMAIL, "password": PASSWORD}
                )
                assert reply.status_code == 201, reply.text
                await User.filter(email=EMAIL).update(is_superuser=True)
                login = await client.post(
                    "/api/v1/auth/jwt/login", data={"username": EMAIL, "password": PASSWORD}
                )
                headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
                conn = await asyncpg.connect(url)
                oldest = midnight(utc_today() - timedelta(days=DAYS - 1))
                filled = 0
                results: dict[int, dict[str, float]] = {}
                for size in sizes:
                    start = time.perf_counter()
                    while filled < size:
                        step = min(1_000_000, size - filled)
                        await conn.execute(
                            FILL, oldest, oldest + timedelta(days=1), DAYS - 1, USERS,
                            filled + 1, filled + step,
                        )  # fmt: skip
                        filled += step
                    # Old days as a live table has them: vacuumed (the visibility map lets
                    # counts read the indexes alone) and analyzed.
                    await conn.execute("VACUUM ANALYZE audit_log", timeout=3600)
                    fill_s = time.perf_counter() - start
                    any_id = await conn.fetchval(
                        "SELECT id FROM audit_log WHERE request_id = 'bench-77'"
                    )
                    results[size] = await measure(client, headers, args.repeat, any_id)
                    print(f"filled to {size:,} rows in {fill_s:.0f} s", flush=True)
                await conn.close()
                parent, plain = await compare_copy(url)
                purge = await purge_under_load(url, client, headers)
    finally:
        await recreate(server, name, drop_only=True)

    first, last = sizes[0], sizes[-1]
    print(f"\n| shape | {' | '.join(f'{s:,} rows (ms)' for s in sizes)} | {last:,} / {first:,} |")
    print("|---|" + "---:|" * (len(sizes) + 1))
    for shape in results[first]:
        times = [results[s][shape] for s in sizes]
        ratio = times[-1] / times[0]
        cells = " | ".join(f"{t:.2f}" for t in times)
        print(f"| {shape} | {cells} | {ratio:.2f} |")
    print(
        f"\nCOPY rows/s: partitioned {parent:,.0f}, plain {plain:,.0f}, ratio {parent / plain:.2f}"
    )
    for key, value in purge.items():
        print(
            f"purge: {key}: {value:,.3f}"
            if isinstance(value, float)
            else f"purge: {key}: {value:,}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
