"""The audit trail at scale: page costs that do not grow with the table, the purge of a big
day, and COPY into the day-partitioned table (PostgreSQL; MySQL/MariaDB with --mysql).

    .venv/bin/python bench/audit_scale.py [--sizes 100000,1000000,10000000] [--repeat 30]
        [--rounds 3] [--copy-rounds 9] [--mysql] [--database NAME] [--keep]

On scratch databases (BENCH_POSTGRES_URL's server, default
postgres://postgres@127.0.0.1:5432/postgres, or with --mysql BENCH_MYSQL_URL's, default
mysql://root:@127.0.0.1:3306/mysql; one per size, made, migrated, dropped at the end unless
--keep) it fills the audit table of each (bench/audit_scale_db.py) to its size, spread over
DAYS UTC days with half of the rows on the oldest day, settles it (VACUUM ANALYZE and a
checkpoint on PostgreSQL), and then measures the sizes in `--rounds` rounds, each after the
server's background work is done, through each size's app in a process of its own
(bench/audit_scale_server.py: the real routes, dependencies and SQL; no network), the sizes
taking turns request by request: the median of `--repeat` requests per size of page 1 and
each filter of GET /api/v1/audit-logs (every filter has at least 20,000 matches
from 100,000 rows on, so the capped count costs the same at every size), the cursor pages 1,
100 and 1,000, GET by id, and the count part of a page alone (`service.total`: without a
filter the sum of the kept per-day counts, on MySQL with one equality filter alone the sum
of its kept per-value counts, else the capped count); a shape's figure is the median of its
rounds. Then, on the largest
database: on PostgreSQL, COPY rows/s into the partitioned parent against a plain table with
the same indexes and the rows of today's partition, where the parent's COPY lands (batches
of 500 rows, as the writer sends them; `--copy-rounds` alternating rounds of 50,000 rows,
each side first every other round; the medians and the spread of the per-round ratios), and
last the purge of the oldest day while a writer adds a batch of 500 every 10 ms and a reader
pages: its seconds (on PostgreSQL split into the DETACH and the DROP), the writer's longest
batch, and the rows of the other days before and after.

Targets (issue 23): every page at the largest size within 1.2 x its time at the smallest;
the count part at most 5 ms; the purge under a second with 0 rows lost elsewhere and no
writer batch over a second; COPY into the parent at least 0.9 x into a plain table.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# pylint: disable=wrong-import-position  # the repository root goes on the path first
from audit_scale_db import COLUMNS, MySQL, Postgres, batch
from audit_scale_server import SizeServer, interleaved, serving

from app.audit import partitions, service
from app.audit.partitions import midnight, utc_today
from app.platform import migrations

DAYS = 7
USERS = [uuid.UUID(int=n + 1) for n in range(5)]
LIST = "/api/v1/audit-logs?page=1&size=50"
SHAPES = {
    "page 1": LIST,
    "user_id": f"{LIST}&user_id={USERS[1]}",
    "route": f"{LIST}&route=/api/v1/users/me",
    "status_code=404": f"{LIST}&status_code=404",
    "path_prefix": f"{LIST}&path_prefix=/api/v1/study-records",
    "method=POST": f"{LIST}&method=POST",
}
FILTERS = {
    "user_id": {"user_id": USERS[1]},
    "route": {"route": "/api/v1/users/me"},
    "status_code=404": {"status_code": 404},
    "path_prefix": {"path_prefix": "/api/v1/study-records"},
    "method=POST": {"method": "POST"},
}

COUNT_BEFORE = "SELECT count(*) FROM audit_log WHERE created_at < %s"
COUNT_FROM = "SELECT count(*) FROM audit_log WHERE created_at >= %s"
ANY_ID = "SELECT id FROM audit_log WHERE request_id = 'bench-77'"
Database = Postgres | MySQL


def measure(
    servers: dict[int, SizeServer], repeat: int, any_ids: dict[int, int]
) -> dict[int, dict[str, float]]:
    """One round: every shape's median time per size, the sizes' requests alternating."""
    urls = {name: dict.fromkeys(servers, url) for name, url in SHAPES.items()}
    for page in (1, 100, 1000):
        urls[f"cursor page {page}"] = {
            size: server.ask("cursor", page) for size, server in servers.items()
        }
    urls["GET by id"] = {size: f"/api/v1/audit-logs/{any_ids[size]}" for size in servers}
    found: dict[int, dict[str, float]] = {size: {} for size in servers}
    for name, by_size in urls.items():
        medians = interleaved(servers, lambda size, by_size=by_size: ("get", by_size[size]), repeat)
        for size, ms in medians.items():
            found[size][name] = ms
    counts = {"no filter": {}, **FILTERS}
    for name, filters in counts.items():
        medians = interleaved(servers, lambda _size, filters=filters: ("count", filters), repeat)
        for size, ms in medians.items():
            found[size][f"count part ({name})"] = ms
    return found


async def copy_rate(conn: asyncpg.Connection, table: str, rows: int) -> float:
    """Rows/s of `rows` rows in batches of 500, one COPY each as the writer sends them (into
    the parent, migration 11's statement trigger counts each COPY's days)."""
    records = batch(500)
    start = time.perf_counter()
    for _ in range(rows // 500):
        await conn.copy_records_to_table(table, records=records, columns=COLUMNS)
    return rows / (time.perf_counter() - start)


async def compare_copy(url: str, rounds: int) -> tuple[list[float], list[float]]:
    """COPY rows/s into the parent and into a plain table with the same indexes and rows as
    today's partition, `rounds` rounds of 50,000 rows each, the two alternating and each
    going first every other round (the machine's noise falls on both); each round's rates."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP TABLE IF EXISTS audit_plain")
        await conn.execute(
            "CREATE TABLE audit_plain (LIKE audit_log INCLUDING DEFAULTS INCLUDING INDEXES)"
        )
        # The parent's COPY lands in today's partition, which the fill gave a sixth of the
        # later rows: the plain table starts with the same rows, so both COPYs add to indexes
        # of the same size (an empty table's are smaller, cached, and cheaper to add to).
        await conn.execute(
            "INSERT INTO audit_plain SELECT * FROM audit_log WHERE created_at >= $1",
            midnight(utc_today()),
            timeout=3600,
        )
        await conn.execute("VACUUM ANALYZE audit_plain", timeout=3600)
        await conn.execute("CHECKPOINT")
        parent, plain = [], []
        for n in range(rounds):
            if n % 2:
                plain.append(await copy_rate(conn, "audit_plain", 50_000))
            parent.append(await copy_rate(conn, "audit_log", 50_000))
            if not n % 2:
                plain.append(await copy_rate(conn, "audit_plain", 50_000))
        await conn.execute("DROP TABLE audit_plain")
        return parent, plain
    finally:
        await conn.close()


class RetireTimes(logging.Handler):
    """The detach and drop times app/audit/partitions.py logs for each day it retires."""

    LINE = re.compile(r"detached in (?P<detach>[\d.]+) ms, dropped in (?P<drop>[\d.]+) ms")

    def __init__(self) -> None:
        super().__init__()
        self.detach = 0.0
        self.drop = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        found = self.LINE.search(record.getMessage())
        if found:
            self.detach += float(found["detach"]) / 1000
            self.drop += float(found["drop"]) / 1000


# One measurement: a writer, a reader and the purge they run beside.
async def purge_under_load(  # pylint: disable=too-many-locals
    db: Database, client: httpx.AsyncClient, headers: dict[str, str]
) -> dict[str, float]:
    cutoff = midnight(utc_today() - timedelta(days=DAYS - 2))
    conn = await db.writer_connection()
    stop = asyncio.Event()
    batches: list[float] = []
    written = 0

    async def writer() -> None:
        nonlocal written
        while not stop.is_set():
            start = time.perf_counter()
            await db.write(conn, batch(500))
            batches.append(time.perf_counter() - start)
            written += 500
            await asyncio.sleep(0.01)

    async def reader() -> None:
        while not stop.is_set():
            await client.get(LIST, headers=headers)

    # The day retired is N days old in real life: its files written out long ago, and out of
    # the page cache (at 500 B a row, 90 days of 5 M rows are 225 GB). Here it was filled
    # minutes ago: DROP would wait for its writeback (2.25 s against 1.55 s for the same
    # 5 M-row day once checkpointed, measured at 11:37 on 6 Dec), and truncate() would free
    # its cached pages one by one (0.45-0.6 s/GB cached against 0.25 s/GB evicted on this
    # machine's ext4, 17:00-18:00 on 6 Dec). So: checkpoint, then evict the day's files.
    await db.checkpoint()
    retired = [p.name for p in await partitions.drop_before(cutoff, dry_run=True)]
    evicted = await db.evict(retired)
    steps = RetireTimes()
    logging.getLogger("app.audit.partitions").addHandler(steps)
    logging.getLogger("app.audit.partitions").setLevel(logging.INFO)
    try:
        big_day = await db.value(COUNT_BEFORE, cutoff)
        others = await db.value(COUNT_FROM, cutoff)
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
        after = await db.value(COUNT_FROM, cutoff)
    finally:
        logging.getLogger("app.audit.partitions").removeHandler(steps)
        await db.close_writer(conn)
    found = {
        "day rows": big_day,
        "partitions dropped": len(report.partitions),
        "MB of their files evicted from the page cache first": evicted // 2**20,
        "purge seconds": seconds,
    }
    if isinstance(db, Postgres):
        found.update({"of which DETACH (s)": steps.detach, "of which DROP (s)": steps.drop})
    found.update(
        {
            "longest writer batch during purge (s)": max(during),
            "rows lost from other days": others + written - after,
        }
    )
    return found


async def prepare(db: Database, size: int) -> float:
    """A scratch database of `size` rows over DAYS days, settled: its seconds to fill."""
    await db.recreate()
    await migrations.upgrade(db.url)
    async with serving(db.url):
        await db.lay_out_days(DAYS)
        await db.open()
        start = time.perf_counter()
        filled = 0
        while filled < size:
            step = min(1_000_000, size - filled)
            await db.fill(filled + 1, filled + step, DAYS, USERS)
            filled += step
        await db.settle()
        return time.perf_counter() - start


def print_table(sizes: list[int], results: dict[int, list[dict[str, float]]]) -> None:
    """Each shape's median over the rounds, per size, and the largest size's over the
    smallest's; a round's figure is the median of its `--repeat` requests."""
    first, last = sizes[0], sizes[-1]
    print(f"\n| shape | {' | '.join(f'{s:,} rows (ms)' for s in sizes)} | {last:,} / {first:,} |")
    print("|---|" + "---:|" * (len(sizes) + 1))
    for shape in results[first][0]:
        times = [statistics.median(r[shape] for r in results[s]) for s in sizes]
        cells = " | ".join(f"{t:.2f}" for t in times)
        print(f"| {shape} | {cells} | {times[-1] / times[0]:.2f} |")


# One linear script: fill a database per size, measure them in interleaved rounds, then
# COPY and purge on the largest, print.
async def main() -> int:  # pylint: disable=too-many-locals
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the pages")
    parser.add_argument("--mysql", action="store_true", help="MySQL/MariaDB, not PostgreSQL")
    parser.add_argument("--database", help="the scratch databases' name (a size is appended)")
    parser.add_argument("--keep", action="store_true", help="keep the databases at the end")
    parser.add_argument("--copy-rounds", type=int, default=9, help="alternating COPY rounds")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    name = args.database or f"studylog_audit_scale_{os.getpid()}"
    server = os.environ.get(
        "BENCH_MYSQL_URL" if args.mysql else "BENCH_POSTGRES_URL",
        "mysql://root:@127.0.0.1:3306/mysql"
        if args.mysql
        else "postgres://postgres@127.0.0.1:5432/postgres",
    )
    kind = MySQL if args.mysql else Postgres
    dbs: dict[int, Database] = {size: kind(server, f"{name}_{size}") for size in sizes}
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    results: dict[int, list[dict[str, float]]] = {size: [] for size in sizes}
    copy: tuple[list[float], list[float]] | None = None
    try:
        for size, db in dbs.items():
            print(f"filled {size:,} rows in {await prepare(db, size):.0f} s", flush=True)
        # Each round starts after the server's background work (autovacuum, checkpoint) is
        # done; within it the sizes take turns request by request, so a drift in the
        # machine's load falls on all of them alike.
        any_ids = {size: await db.value(ANY_ID) for size, db in dbs.items()}
        servers = {size: SizeServer(db.url) for size, db in dbs.items()}
        try:
            for _ in range(args.rounds):
                for db in dbs.values():
                    await db.quiesce()
                for size, found in measure(servers, args.repeat, any_ids).items():
                    results[size].append(found)
        finally:
            for server in servers.values():
                server.stop()
        largest = dbs[sizes[-1]]
        if isinstance(largest, Postgres):
            copy = await compare_copy(largest.url, args.copy_rounds)
        async with serving(largest.url) as (client, headers):
            purge = await purge_under_load(largest, client, headers)
    finally:
        for db in dbs.values():
            await db.close()
            if args.keep:
                print(f"kept {db.url}")
            else:
                await db.recreate(drop_only=True)

    print_table(sizes, results)
    print(f"\n{dbs[sizes[0]].label}")
    if copy is not None:
        parent, plain = copy
        ratios = sorted(a / b for a, b in zip(parent, plain, strict=True))
        print(
            f"COPY rows/s ({len(parent)} alternating rounds of 50,000, median): partitioned "
            f"{statistics.median(parent):,.0f}, plain {statistics.median(plain):,.0f}, ratio "
            f"{statistics.median(parent) / statistics.median(plain):.2f}; ratio per round: "
            f"median {statistics.median(ratios):.2f}, {ratios[0]:.2f}-{ratios[-1]:.2f}"
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
