"""The audit table's day partitions (PostgreSQL, MySQL): made by the migration and kept,
made again by the writer when a day is missing, retired whole by the purge, and the
migration of a populated table. SQLite keeps one table."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from tortoise import Tortoise

from app.audit import partition_errors, partitions, service
from app.audit.models import AuditDayCount, AuditLog
from app.audit.partitions import midnight, utc_today
from app.platform import metrics, migrations
from settings import Settings
from tests.fixtures import services

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects

PARTITIONED = pytest.mark.parametrize("backend", ["postgres", "mysql"], indirect=True)
AHEAD = 14


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"AUDIT_FLUSH_INTERVAL_MS": 20}


def day(offset: int) -> date:
    return utc_today() + timedelta(days=offset)


def entry(moment: datetime, request_id: str) -> AuditLog:
    return AuditLog(
        created_at=moment,
        request_id=request_id,
        method="GET",
        path="/p",
        status_code=200,
        duration_ms=1.0,
    )


async def execute(statement: str) -> None:
    await Tortoise.get_connection("default").execute_script(statement)


def day_partitions(found: list[partitions.Partition]) -> list[date]:
    return [p.day for p in found if p.day is not None]


async def drop_days_from(first: date) -> None:
    """Drops the partitions of `first` and later (MySQL's MAXVALUE one too, so that a row of
    those days has nowhere to go there either), as an operator's mistake would."""
    gone = [p for p in await partitions.listing() if p.end is None or p.end > midnight(first)]
    assert gone
    if Tortoise.get_connection("default").schema_generator.DIALECT == "postgres":
        for partition in gone:
            await execute(f'ALTER TABLE audit_log DETACH PARTITION "{partition.name}"')
            await execute(f'DROP TABLE "{partition.name}"')
    else:
        names = ", ".join(f"`{p.name}`" for p in gone)
        await execute(f"ALTER TABLE audit_log DROP PARTITION {names}")


@pytest.fixture
async def scratch(backend: str, test_tmp_dir: Path) -> AsyncIterator[str]:
    """A migrated database of its own, with Tortoise open on it."""
    url = services.backend_url(backend, test_tmp_dir, scratch="partitions")
    services.forget_dialect_caches()
    await services.create_server_database(url)
    await services.drop_all_tables(url)
    await migrations.upgrade(url)
    await Tortoise.init(config=Settings(DATABASE_URL=url).tortoise_config())
    try:
        yield url
    finally:
        await Tortoise.close_connections()


# --- made and kept ----------------------------------------------------------------------


@PARTITIONED
@pytest.mark.usefixtures("app")
async def test_the_migration_makes_one_partition_per_day_through_the_window() -> None:
    found = await partitions.listing()
    days = day_partitions(found)
    assert days == [days[0] + timedelta(days=n) for n in range(len(days))], "a gap"
    assert day(0) in days
    assert day(AHEAD) in days
    assert found[0].start is None  # the rows from before partitioning


@PARTITIONED
@pytest.mark.usefixtures("app")
async def test_ensure_makes_the_missing_days_once() -> None:
    before = set(day_partitions(await partitions.listing()))
    made = await partitions.ensure(back_days=0, ahead_days=AHEAD + 5)
    expected = [day(n) for n in range(AHEAD + 6) if day(n) not in before]
    assert expected
    assert [name[-8:] for name in made] == [f"{d:%Y%m%d}" for d in expected]
    assert await partitions.ensure(back_days=0, ahead_days=AHEAD + 5) == []
    assert {day(n) for n in range(AHEAD + 6)} <= set(day_partitions(await partitions.listing()))


async def index_definitions(table: str) -> set[str]:
    """A PostgreSQL table's indexes as method and columns, e.g. "btree (created_at, id)"."""
    _, rows = await Tortoise.get_connection("default").execute_query(
        "SELECT regexp_replace(indexdef, '^.* USING ', '') AS how FROM pg_indexes "
        "WHERE schemaname = 'public' AND tablename = $1",
        [table],
    )
    return {row["how"] for row in rows}


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@pytest.mark.usefixtures("app")
async def test_a_day_made_later_has_the_parents_indexes() -> None:
    """Every day, the migration's and one made afterwards, has the parent's set: the
    method filter's index, and not the plain (path) one migration 12 dropped (the
    text_pattern_ops one serves the prefix)."""
    await drop_days_from(day(AHEAD))
    made = await partitions.ensure(back_days=0, ahead_days=AHEAD)
    assert made == [f"audit_log_p{day(AHEAD):%Y%m%d}"]
    parent = await index_definitions("audit_log")
    assert "btree (method, created_at, id)" in parent
    assert "btree (path text_pattern_ops)" in parent
    assert "btree (path)" not in parent
    for partition in await partitions.listing():
        assert await index_definitions(partition.name) == parent, partition.name


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.usefixtures("app")
async def test_sqlite_keeps_one_table() -> None:
    assert await partitions.listing() == []
    assert await partitions.ensure(back_days=3, ahead_days=3) == []
    assert await partitions.drop_before(midnight(day(1))) == []


# --- the writer and a missing day --------------------------------------------------------


@PARTITIONED
async def test_a_day_dropped_while_requests_flow_loses_no_entry(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Today's partition (and on MySQL every later one) goes while three clients send
    requests: every request that began after the drop has its entry stored, none is
    dropped, and the day exists again."""
    writer = app.state.audit_writer
    begun_after_drop: list[str] = []
    dropped = asyncio.Event()
    stop = asyncio.Event()

    async def flow(name: str) -> None:
        n = 0
        while not stop.is_set():
            path = f"/api/v1/flow-{name}-{n}"
            after = dropped.is_set()
            response = await client.get(path)
            assert response.status_code == 404
            if after:
                begun_after_drop.append(path)
            n += 1
            await asyncio.sleep(0)  # an in-process request may never yield by itself

    flows = [asyncio.create_task(flow(name)) for name in "abc"]
    await asyncio.sleep(0.3)
    await drop_days_from(day(0))
    dropped.set()
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*flows)
    await writer.flush()
    assert len(begun_after_drop) > 10
    stored = set(
        await AuditLog.filter(path__startswith="/api/v1/flow-").values_list("path", flat=True)
    )
    assert set(begun_after_drop) <= stored
    assert writer.dropped == 0
    assert day(0) in day_partitions(await partitions.listing())
    await partitions.ensure(back_days=0, ahead_days=AHEAD)  # the window, for later tests


async def refusal(statement: str) -> BaseException:
    """The error the database (through Tortoise) answers a statement with."""
    with pytest.raises(Exception) as refused:  # noqa: PT011  # whichever the driver raises
        await execute(statement)
    return refused.value


@PARTITIONED
@pytest.mark.usefixtures("scratch")
async def test_a_missing_partition_is_told_by_the_error_code_not_the_text(backend: str) -> None:
    await drop_days_from(day(0))
    with pytest.raises(Exception) as refused:  # noqa: PT011  # Tortoise's, wrapping the driver's
        await entry(midnight(day(0)), "nowhere").save()
    assert partition_errors.is_missing_partition(refused.value)
    # The same words from anything else are not that error.
    if backend == "postgres":
        words = 'no partition of relation "audit_log" found for row'
        raised = await refusal(f"DO $$ BEGIN RAISE EXCEPTION '{words}'; END $$")
        # A CHECK constraint's violation has the same SQLSTATE, and names its constraint.
        await execute("CREATE TABLE positive (n int CONSTRAINT n_positive CHECK (n > 0))")
        check = await refusal("INSERT INTO positive VALUES (-1)")
        assert not partition_errors.is_missing_partition(check), check
    else:
        raised = await refusal(
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'Table has no partition for value 1'"
        )
    assert "partition" in str(raised)
    assert not partition_errors.is_missing_partition(raised), raised


# --- retention ----------------------------------------------------------------------------


async def lay_out_past_days(count: int) -> None:
    """Day partitions for the `count` days before today in a fresh database, in place of the
    partition the migration made of the (empty) table as it was."""
    if Tortoise.get_connection("default").schema_generator.DIALECT == "postgres":
        assert [p.name for p in await partitions.drop_before(midnight(day(0)))] == [
            "audit_log_legacy"
        ]
        await partitions.ensure(back_days=count, ahead_days=2)
        return
    # MySQL appends days only ahead (older times fall into the oldest partition): the test
    # splits the oldest one itself.
    days = ", ".join(
        f"PARTITION p{day(n):%Y%m%d} VALUES LESS THAN ('{day(n + 1)} 00:00:00')"
        for n in range(-count, 0)
    )
    await execute(
        "ALTER TABLE audit_log REORGANIZE PARTITION p_legacy INTO ("
        f"PARTITION p_legacy VALUES LESS THAN ('{day(-count)} 00:00:00'), {days})"
    )


@PARTITIONED
@pytest.mark.usefixtures("scratch")
async def test_purge_drops_whole_days_and_keeps_the_rest(backend: str) -> None:
    await lay_out_past_days(40)
    await AuditLog.bulk_create(
        [
            entry(midnight(day(-n)) + timedelta(hours=h), f"{n}-{h}")
            for n in range(40)
            for h in (0, 11, 23)
        ]
    )
    await execute("ANALYZE audit_log" if backend == "postgres" else "ANALYZE TABLE audit_log")
    cutoff = midnight(day(-30))

    planned = await service.purge(older_than_days=30, dry_run=True)
    assert planned.cutoff == cutoff
    assert {p.day for p in planned.partitions} - {None} == {day(-n) for n in range(31, 41)}
    assert planned.rows_deleted == 0  # nothing outside whole days
    if backend == "postgres":
        assert planned.rows == 27
    assert await AuditLog.all().count() == 120

    done = await service.purge(older_than_days=30)
    assert [p.name for p in done.partitions] == [p.name for p in planned.partitions]
    assert done.rows_deleted == 0
    assert await AuditLog.all().count() == 93  # 31 days of 3 rows
    assert not await AuditLog.filter(created_at__lt=cutoff).exists()
    assert all(p.end is None or p.end > cutoff for p in await partitions.listing())
    if backend == "postgres":
        _, rows = await Tortoise.get_connection("default").execute_query(
            "SELECT count(*) AS n FROM pg_class WHERE relname LIKE 'audit_log_p%' "
            "AND relkind = 'r' AND NOT relispartition"
        )
        assert rows[0]["n"] == 0, "a detached day was left behind"


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
@pytest.mark.usefixtures("scratch")
async def test_a_mysql_purge_of_every_day_without_p_future_keeps_the_table_writable() -> None:
    """MySQL refuses to drop a table's last partition: with `p_future` gone (an operator's
    mistake) and every day past the retention, the purge makes `p_future` again first."""
    await lay_out_past_days(3)
    await drop_days_from(day(0))  # today, the days ahead and p_future
    await AuditLog.bulk_create([entry(midnight(day(-n)), f"old-{n}") for n in (1, 2, 3)])
    assert all(p.end is not None for p in await partitions.listing())

    done = await service.purge(older_than_days=0)
    assert {p.day for p in done.partitions} >= {day(-1), day(-2), day(-3)}
    left = await partitions.listing()
    assert [(p.name, p.end) for p in left] == [("p_future", None)]
    assert await AuditLog.all().count() == 0
    await AuditLog.bulk_create([entry(midnight(day(0)), "today")])  # p_future takes it
    await partitions.ensure(back_days=0, ahead_days=2)
    # The first of them has no lower bound, as MySQL's first partition never has.
    assert [p.name for p in await partitions.listing()] == [
        *(f"p{day(n):%Y%m%d}" for n in range(3)),
        "p_future",
    ]
    assert await AuditLog.filter(request_id="today").count() == 1


# --- the migration of a populated table -----------------------------------------------------


@PARTITIONED
async def test_the_migration_keeps_a_populated_table(scratch: str, backend: str) -> None:
    await Tortoise.close_connections()
    # Later migrations are undone first; the partitions' is the last undone.
    undone = await migrations.downgrade(scratch, version=9)
    assert undone[-1] == "9_20261206070000_audit_partitions.py"
    await Tortoise.init(config=Settings(DATABASE_URL=scratch).tortoise_config())
    assert await partitions.listing() == []
    await AuditLog.bulk_create(
        [entry(midnight(day(-n)) + timedelta(hours=1), f"old-{n}") for n in (10, 3, 0)]
    )
    before = {row.request_id: row.id for row in await AuditLog.all()}
    storage = "SELECT relfilenode AS f FROM pg_class WHERE relname = '{}'"
    if backend == "postgres":
        _, rows = await Tortoise.get_connection("default").execute_query(
            storage.format("audit_log")
        )
        file_before = rows[0]["f"]
    await Tortoise.close_connections()

    assert (await migrations.upgrade(scratch))[0] == "9_20261206070000_audit_partitions.py"
    await Tortoise.init(config=Settings(DATABASE_URL=scratch).tortoise_config())
    found = await partitions.listing()
    assert found[0].start is None
    assert found[0].end == midnight(day(1))  # the day after the newest row
    assert day_partitions(found)[0] == day(1)
    assert day(AHEAD) in day_partitions(found)
    assert {row.request_id: row.id for row in await AuditLog.all()} == before
    await AuditLog.bulk_create([entry(midnight(day(1)) + timedelta(hours=2), "new")])
    new_id = (await AuditLog.get(request_id="new")).id
    assert new_id > max(before.values())
    if backend == "postgres":
        _, rows = await Tortoise.get_connection("default").execute_query(
            storage.format("audit_log_legacy")
        )
        assert rows[0]["f"] == file_before, "the rows were copied"


# --- pages across days ----------------------------------------------------------------------


async def test_a_cursor_walk_across_days_returns_every_entry_once(
    client: httpx.AsyncClient, superuser_headers: dict[str, str]
) -> None:
    moments = [midnight(day(n)) + timedelta(hours=h) for n in (-2, -1, 0, 1, 2) for h in (0, 0, 9)]
    await AuditLog.bulk_create([entry(m, f"walk-{uuid.uuid4()}") for m in moments])
    rows = await AuditLog.filter(request_id__startswith="walk-").order_by("-created_at", "-id")
    expected = [row.request_id for row in rows]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"size": 4, "path_prefix": "/p"}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(
            "/api/v1/audit-logs/cursor", params=params, headers=superuser_headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["request_id"] for item in body["items"]]
        cursor = body["next_page"]
        if cursor is None:
            break
    assert seen == expected
    assert len(set(seen)) == len(moments)


# --- what /metrics says -------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings_overrides", [{"METRICS_ENABLED": True, "AUDIT_FLUSH_INTERVAL_MS": 60_000}]
)
async def test_metrics_show_the_days_ahead_and_the_oldest_entry(
    client: httpx.AsyncClient, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    oldest = midnight(day(-3)) + timedelta(hours=5)
    await AuditLog.bulk_create([entry(oldest, "oldest"), entry(midnight(day(0)), "today")])
    monkeypatch.setitem(metrics.AUDIT_SAMPLED, "at", -metrics.AUDIT_SAMPLE_EVERY_SECONDS)
    text = (await client.get("/metrics")).text
    found = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    ahead = found["studylog_audit_partition_days_ahead"]
    assert ahead == 0 if backend == "sqlite" else ahead >= AHEAD
    assert found["studylog_audit_oldest_entry_timestamp_seconds"] == oldest.timestamp()
    assert found["studylog_audit_overflow_partition_rows"] == 0


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@pytest.mark.usefixtures("scratch")
async def test_a_table_left_without_any_partition_gets_its_day_back() -> None:
    for partition in await partitions.listing():
        await execute(f'ALTER TABLE audit_log DETACH PARTITION "{partition.name}"')
        await execute(f'DROP TABLE "{partition.name}"')
    assert await partitions.listing() == []
    assert await partitions.is_partitioned()
    assert await partitions.ensure_days([day(0)]) == [f"audit_log_p{day(0):%Y%m%d}"]
    await AuditLog.bulk_create([entry(midnight(day(0)), "back")])
    assert await AuditLog.filter(request_id="back").count() == 1


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_day_the_table_is_too_busy_to_detach_goes_concurrently(
    scratch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain DETACH waits for the table's exclusive lock only briefly, then gives way;
    when a reader holds the table through every try, DETACH … CONCURRENTLY takes over (it
    waits for that reader to finish instead of making everyone queue behind it), and the
    day's kept count goes too."""
    monkeypatch.setattr(partitions, "LOCK_RETRIES", 2)
    monkeypatch.setattr(partitions, "DETACH_LOCK_TIMEOUT_SECONDS", 0.05)
    await lay_out_past_days(3)
    await AuditLog.bulk_create([entry(midnight(day(-3)) + timedelta(hours=1), "old")])
    assert await AuditDayCount.filter(day=day(-3)).values_list("entries", flat=True) == [1]

    reader = await asyncpg.connect(scratch.replace("postgres://", "postgresql://", 1))
    try:
        async with reader.transaction():
            await reader.fetch("SELECT count(*) FROM audit_log")  # holds the table's lock
            purge = asyncio.create_task(partitions.drop_before(midnight(day(-2))))
            await asyncio.sleep(1.0)  # every plain try has timed out by now
            assert not purge.done(), "the detach did not wait for the reader"
        done = await asyncio.wait_for(purge, timeout=10)
    finally:
        await reader.close()
    assert day(-3) in {p.day for p in done}
    assert day(-3) not in day_partitions(await partitions.listing())
    assert not await AuditDayCount.filter(day=day(-3)).exists()
    assert not await AuditLog.filter(request_id="old").exists()
