"""The database side of each audit page shape on two tables of different sizes, measured
side by side (PostgreSQL).

    .venv/bin/python bench/audit_pages_compare.py SMALL_URL BIG_URL [--repeat 200]

SMALL_URL and BIG_URL are two databases filled by `bench/audit_scale.py --keep` (e.g. to
100 k and to 10 M rows). For every page shape it runs the statements the app sends for it
(the page, then its count: capped at 10,001 matches, or the kept per-day counts' sum without
a filter), as the app builds them (Tortoise, app/audit/service.py and cursor.py), on one
database and then the other, `--repeat` times in turn, and prints the median time of each
and their ratio, then the shared buffers each page reads (EXPLAIN (ANALYZE, BUFFERS)).

Why side by side: bench/audit_scale.py measures each size after its fill, minutes apart,
through the whole app, where a page costs 5-10 ms of which the database is about 1; on a
shared machine the load moves between the sizes by more than the 1.2 x the issue allows.
Turn by turn, the same load falls on both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from tortoise import Tortoise

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# pylint: disable=wrong-import-position  # the repository root goes on the path first
from app.audit import day_counts, service
from app.audit.schemas import AuditLogFilters
from app.platform.dialect import beyond
from settings import Settings

USERS = [uuid.UUID(int=n + 1) for n in range(5)]  # as bench/audit_scale.py fills them
SHAPES = {
    "page 1": AuditLogFilters(),
    "user_id": AuditLogFilters(user_id=USERS[1]),
    "route": AuditLogFilters(route="/api/v1/users/me"),
    "status_code=404": AuditLogFilters(status_code=404),
    "path_prefix": AuditLogFilters(path_prefix="/api/v1/study-records"),
    "method=POST": AuditLogFilters(method="POST"),
}
DEPTHS = (1, 100, 1000)  # cursor pages
SIZE = 50


def inline(selection: Any) -> str:
    return str(selection.sql(params_inline=True))


def statements(filters: AuditLogFilters) -> list[str]:
    """The page and its count, as the list route sends them."""
    page = inline(service.query(filters=filters).offset(0).limit(SIZE))
    if not service.narrows(filters):
        return [page, day_counts.TOTAL]
    ids = service.matching(filters).limit(service.TOTAL_CAP + 1).values_list("id")
    return [page, f"SELECT COUNT(*) AS n FROM ({inline(ids)}) AS capped"]  # noqa: S608


async def cursor_statement(conn: asyncpg.Connection, depth: int) -> str:
    """Cursor page `depth` of the unfiltered list on this database: its keyset bound is the
    last entry of the page before (read once here)."""
    selection = service.matching(None)
    if depth > 1:
        row = await conn.fetchrow(
            "SELECT created_at, id FROM audit_log ORDER BY created_at DESC, id DESC "
            "OFFSET $1 LIMIT 1",
            (depth - 1) * SIZE - 1,
        )
        selection = selection.filter(
            beyond("created_at", row["created_at"], row["id"], later=False)
        )
    return inline(selection.order_by("-created_at", "-id").limit(SIZE + 1))


async def timed(conn: asyncpg.Connection, sqls: list[str]) -> float:
    start = time.perf_counter()
    for sql in sqls:
        await conn.fetch(sql)
    return (time.perf_counter() - start) * 1000


async def buffers(conn: asyncpg.Connection, sql: str) -> int:
    plan = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
    top = (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]
    return int(top.get("Shared Hit Blocks", 0)) + int(top.get("Shared Read Blocks", 0))


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("small")
    parser.add_argument("big")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    await Tortoise.init(config=Settings(DATABASE_URL=args.small).tortoise_config())
    small, big = await asyncpg.connect(args.small), await asyncpg.connect(args.big)
    try:
        rows = [await c.fetchval(day_counts.TOTAL) for c in (small, big)]
        work: dict[str, tuple[list[str], list[str]]] = {}
        for name, filters in SHAPES.items():
            sqls = statements(filters)
            work[name] = (sqls, sqls)
        for depth in DEPTHS:
            work[f"cursor page {depth}"] = (
                [await cursor_statement(small, depth)],
                [await cursor_statement(big, depth)],
            )
        print(f"rows: {rows[0]:,} and {rows[1]:,}; median of {args.repeat}, in turn\n")
        print("| shape | small (ms) | big (ms) | big / small | page buffers small / big |")
        print("|---|---:|---:|---:|---:|")
        for name, (on_small, on_big) in work.items():
            times: tuple[list[float], list[float]] = ([], [])
            for _ in range(args.repeat):
                times[0].append(await timed(small, on_small))
                times[1].append(await timed(big, on_big))
            a, b = statistics.median(times[0]), statistics.median(times[1])
            pages = (await buffers(small, on_small[0]), await buffers(big, on_big[0]))
            print(f"| {name} | {a:.2f} | {b:.2f} | {b / a:.2f} | {pages[0]} / {pages[1]} |")
    finally:
        await small.close()
        await big.close()
        await Tortoise.close_connections()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
