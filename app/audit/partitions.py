"""The audit table's day partitions on PostgreSQL and MySQL (migration 9 made them).

One partition per UTC day. `ensure` keeps the window from today - back days to today +
ahead days (`run.py db upgrade`, the hourly job, `run.py audit partitions ensure`);
`ensure_days` makes the days a batch of the writer needs when one is missing; `drop_before`
retires whole days for retention. SQLite, and a table that is not partitioned, have none:
`listing` is empty and the callers fall back to deleting rows.

Every change holds a lock no other runner holds at the same time (PostgreSQL's advisory
lock, MySQL's GET_LOCK) and waits at most LOCK_TIMEOUT_SECONDS for the table's own lock
before it gives way and tries again, so the writer's inserts never stand behind it for
longer than that.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from time import perf_counter
from typing import Any

from tortoise import Tortoise

from app.audit import partition_sql as sql
from app.audit.models import AuditLog

logger = logging.getLogger(__name__)

LOCK_TIMEOUT_SECONDS = 1.0
# Retiring a day locks the whole table (no reader nor writer passes): a shorter wait.
DETACH_LOCK_TIMEOUT_SECONDS = 0.2
LOCK_RETRIES = 10
RUNNER_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class Partition:
    """One partition: the rows from `start` (None: the beginning) up to `end` (None: no end,
    MySQL's MAXVALUE partition); rows and bytes as the database estimates them (rows None:
    not yet estimated)."""

    name: str
    start: datetime | None
    end: datetime | None
    rows: int | None
    bytes: int

    @property
    def day(self) -> date | None:
        """The UTC day of a one-day partition."""
        if self.start is None or self.end is None or self.end - self.start != timedelta(days=1):
            return None
        return self.start.date()

    def covers(self, moment: datetime) -> bool:
        return (self.start is None or self.start <= moment) and (
            self.end is None or moment < self.end
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "rows_estimate": self.rows,
            "bytes": self.bytes,
        }


class PartitionsBusy(RuntimeError):
    """Another runner holds the partition lock, or the table's lock was not free in time."""


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def utc_today() -> date:
    return datetime.now(UTC).date()


def _dialect() -> str:
    return str(Tortoise.get_connection("default").schema_generator.DIALECT)


# --- reading ----------------------------------------------------------------------------


async def listing() -> list[Partition]:
    """The partitions oldest first; empty where the table is not partitioned."""
    dialect = _dialect()
    if dialect == "postgres":
        return await _postgres_listing()
    if dialect == "mysql":
        return await _mysql_listing()
    return []


async def is_partitioned() -> bool:
    """Whether the audit table is partitioned (it is once migration 9 ran, but on SQLite)."""
    dialect = _dialect()
    conn = Tortoise.get_connection("default")
    if dialect == "postgres":
        _, rows = await conn.execute_query(sql.PG_IS_PARTITIONED)
        return bool(rows and rows[0]["partitioned"])
    if dialect == "mysql":
        return bool(await _mysql_listing())
    return False


def _moment(bound: str) -> datetime | None:
    if bound.upper() in ("MINVALUE", "MAXVALUE"):
        return None
    moment = datetime.fromisoformat(bound.strip("'"))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


_PG_BOUND = re.compile(r"FROM \((?P<start>[^)]*)\) TO \((?P<end>[^)]*)\)")


async def _postgres_listing() -> list[Partition]:
    conn = Tortoise.get_connection("default")
    _, rows = await conn.execute_query(sql.PG_LISTING)
    found = []
    for row in rows:
        match = _PG_BOUND.search(row["bound"] or "")
        if match is None:
            continue  # a DEFAULT partition: never made here
        estimate = int(row["rows"])
        found.append(
            Partition(
                name=row["name"],
                start=_moment(match["start"]),
                end=_moment(match["end"]),
                rows=estimate if estimate >= 0 else None,
                bytes=int(row["bytes"]),
            )
        )
    return sorted(found, key=lambda p: p.start or datetime.min.replace(tzinfo=UTC))


async def _mysql_listing() -> list[Partition]:
    conn = Tortoise.get_connection("default")
    _, rows = await conn.execute_query(sql.MYSQL_LISTING)
    found: list[Partition] = []
    start: datetime | None = None
    for row in rows:
        if row["name"] is None:
            return []  # the table is not partitioned
        end = _moment(row["bound"])
        found.append(
            Partition(
                name=row["name"],
                start=start,
                end=end,
                rows=int(row["rows"] or 0),
                bytes=int(row["bytes"] or 0),
            )
        )
        start = end
    return found


async def figures(*, today: date | None = None) -> tuple[int, float, int]:
    """For /metrics: whole days after today with a partition, the oldest entry's time (Unix
    seconds, 0 without entries) and the rows in MySQL's MAXVALUE partition."""
    found = await listing()
    ends = [p.end for p in found if p.end is not None]
    ahead = max(0, (max(ends).date() - (today or utc_today())).days - 1) if ends else 0
    overflow = sum(p.rows or 0 for p in found if p.end is None)
    oldest = (
        await AuditLog.all().order_by("created_at").limit(1).values_list("created_at", flat=True)
    )
    return ahead, oldest[0].timestamp() if oldest else 0.0, overflow


# --- making days ------------------------------------------------------------------------


def _missing(partitions: list[Partition], days: Iterable[date]) -> list[date]:
    return sorted({day for day in days if not any(p.covers(midnight(day)) for p in partitions)})


async def ensure(
    *, back_days: int, ahead_days: int, today: date | None = None, analyze: bool = False
) -> list[str]:
    """Makes the partitions missing from today - back_days to today + ahead_days; the names
    made. Idempotent; PartitionsBusy when another runner holds the lock for too long."""
    today = today or utc_today()
    days = [today + timedelta(days=n) for n in range(-back_days, ahead_days + 1)]
    return await ensure_days(days, analyze=analyze)


async def ensure_days(days: Iterable[date], *, analyze: bool = False) -> list[str]:
    """Makes a partition for each of these days that no partition covers; the names made.

    On MySQL a day is only ever missing past the last bounded partition (older times fall
    into the oldest partition, and the MAXVALUE partition takes the rest): days are appended
    by splitting that partition.
    """
    wanted = list(days)
    dialect = _dialect()
    if dialect not in ("postgres", "mysql") or not wanted:
        return []
    if not await is_partitioned():
        return []
    conn = Tortoise.get_connection("default")
    async with conn.acquire_connection() as raw:
        if dialect == "postgres":
            made = await _postgres_make(raw, wanted, analyze=analyze)
        else:
            made = await _mysql_make(raw, wanted)
    if made:
        logger.info("audit partitions made: %s", ", ".join(made))
    return made


async def _retry_locked(attempt: Any, is_lock_timeout: Any) -> None:
    for number in range(LOCK_RETRIES):
        try:
            await attempt()
        # Each driver has its own errors; anything but a lock timeout is raised again.
        except Exception as exc:  # pylint: disable=broad-exception-caught
            if not is_lock_timeout(exc) or number == LOCK_RETRIES - 1:
                raise
            await asyncio.sleep(0.1 * (number + 1))
        else:
            return


def _pg_lock_timeout(exc: BaseException) -> bool:
    return getattr(exc, "sqlstate", None) == "55P03"


async def _postgres_make(raw: Any, days: list[date], *, analyze: bool) -> list[str]:
    await _pg_runner_lock(raw)
    made = []
    try:
        for day in _missing(await _postgres_listing(), days):
            name = sql.pg_day_name(day)

            async def create(day: date = day, name: str = name) -> None:
                async with raw.transaction():
                    await raw.execute(sql.pg_lock_timeout(LOCK_TIMEOUT_SECONDS))
                    await raw.execute(sql.pg_create_day(name, midnight(day)))

            await _retry_locked(create, _pg_lock_timeout)
            made.append(name)
        if analyze:
            await raw.execute(sql.PG_ANALYZE)
    finally:
        await raw.execute(sql.PG_UNLOCK, sql.LOCK_KEY)
    return made


async def _pg_runner_lock(raw: Any) -> None:
    deadline = asyncio.get_running_loop().time() + RUNNER_WAIT_SECONDS
    while not await raw.fetchval(sql.PG_TRY_LOCK, sql.LOCK_KEY):
        if asyncio.get_running_loop().time() > deadline:
            raise PartitionsBusy("another runner holds the audit partition lock")
        await asyncio.sleep(0.2)


def _mysql_lock_timeout(exc: BaseException) -> bool:
    code = exc.args[0] if exc.args else None
    return code in (1205, 1213)  # lock wait timeout, deadlock


async def _mysql_runner_lock(cur: Any) -> None:
    await cur.execute(sql.MYSQL_GET_LOCK, (sql.LOCK_NAME, RUNNER_WAIT_SECONDS))
    (locked,) = await cur.fetchone()
    if locked != 1:
        raise PartitionsBusy("another runner holds the audit partition lock")


async def _mysql_change(cur: Any, statement: str) -> None:
    """One partition change, waiting at most LOCK_TIMEOUT_SECONDS at a time for the table."""
    await cur.execute(sql.mysql_lock_timeout(LOCK_TIMEOUT_SECONDS))
    try:
        await _retry_locked(lambda: cur.execute(statement), _mysql_lock_timeout)
    finally:
        await cur.execute(sql.MYSQL_LOCK_TIMEOUT_DEFAULT)


async def _mysql_make(raw: Any, days: list[date]) -> list[str]:
    async with raw.cursor() as cur:
        await _mysql_runner_lock(cur)
        try:
            partitions = await _mysql_listing()
            bounded = [p for p in partitions if p.end is not None]
            last_end = bounded[-1].end if bounded else None
            overflow = next((p for p in partitions if p.end is None), None)
            later = [
                d for d in _missing(bounded, days) if last_end is None or midnight(d) >= last_end
            ]
            if last_end is not None and later:
                # Days are appended without a gap, so each partition stays one day.
                first = last_end.date()
                later = [first + timedelta(days=n) for n in range((later[-1] - first).days + 1)]
            if not later and overflow is not None:
                return []
            await _mysql_change(cur, sql.mysql_add_days(later, overflow.name if overflow else None))
            return [sql.mysql_day_name(d) for d in later]
        finally:
            await cur.execute(sql.MYSQL_RELEASE_LOCK, (sql.LOCK_NAME,))


# --- retiring days ----------------------------------------------------------------------


async def drop_before(cutoff: datetime, *, dry_run: bool = False) -> list[Partition]:
    """Retires every partition whose rows are all older than `cutoff`: PostgreSQL detaches
    it (`_pg_retire`) and drops it, MySQL drops it; the partitions that went (or would go).
    MySQL's MAXVALUE partition always stays, and is made again first where it is missing:
    MySQL refuses to drop a table's last partition, and without it the table takes no row
    past its last day."""
    partitions = [p for p in await listing() if p.end is not None and p.end <= cutoff]
    if dry_run or not partitions:
        return partitions
    dialect = _dialect()
    conn = Tortoise.get_connection("default")
    async with conn.acquire_connection() as raw:
        if dialect == "postgres":
            await _pg_runner_lock(raw)
            try:
                for partition in partitions:
                    await _pg_retire(raw, partition)
            finally:
                await raw.execute(sql.PG_UNLOCK, sql.LOCK_KEY)
        else:
            async with raw.cursor() as cur:
                await _mysql_runner_lock(cur)
                try:
                    if not any(p.end is None for p in await _mysql_listing()):
                        await _mysql_change(cur, sql.mysql_add_days([], None))
                        logger.warning("audit partition %s was missing: made again", sql.OVERFLOW)
                    await _mysql_change(cur, sql.mysql_drop([p.name for p in partitions]))
                finally:
                    await cur.execute(sql.MYSQL_RELEASE_LOCK, (sql.LOCK_NAME,))
    logger.info("audit partitions dropped: %s", ", ".join(p.name for p in partitions))
    return partitions


async def _pg_retire(raw: Any, partition: Partition) -> None:
    """Detaches the partition and forgets its day's count in one transaction, then drops it.

    A plain DETACH: one catalog change (milliseconds) under an ACCESS EXCLUSIVE lock on the
    parent, which it waits for at most DETACH_LOCK_TIMEOUT_SECONDS at a time, so a writer
    queued behind it waits no longer than that; a longer query on the table makes it give
    way and try again. When the table stays that busy through every try, DETACH …
    CONCURRENTLY instead: it blocks nobody, but waits out every transaction on the table
    twice and cannot share a transaction (the count goes right after). DROP then removes a
    table nobody reads any more (its time is the file system freeing the day's files)."""

    async def detach() -> None:
        async with raw.transaction():
            await raw.execute(sql.pg_lock_timeout(DETACH_LOCK_TIMEOUT_SECONDS))
            await raw.execute(sql.pg_detach(partition.name, how=""))
            if partition.day is not None:
                await raw.execute(sql.PG_FORGET_DAY, partition.day)

    start = perf_counter()
    try:
        await _retry_locked(detach, _pg_lock_timeout)
    # Still busy, or an earlier concurrent detach was interrupted ("pending detach"):
    # finished concurrently (anything else is raised again).
    except Exception as exc:  # pylint: disable=broad-exception-caught
        pending = "pending detach" in str(exc)
        if not (pending or _pg_lock_timeout(exc)):
            raise
        await raw.execute(
            sql.pg_detach(partition.name, how="FINALIZE" if pending else "CONCURRENTLY")
        )
        if partition.day is not None:
            await raw.execute(sql.PG_FORGET_DAY, partition.day)
    detached = perf_counter()
    await raw.execute(sql.pg_drop(partition.name))
    logger.info(
        "audit partition %s detached in %.0f ms, dropped in %.0f ms",
        partition.name,
        (detached - start) * 1000,
        (perf_counter() - detached) * 1000,
    )
