"""The kept per-day counts of the audit trail (migration 11's triggers): exact after every
kind of write and delete, under concurrent writers, gone with a retired day, filled by the
migration from the rows already there; the unfiltered list's total is their sum."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tortoise import Tortoise

from app.audit import day_counts, partitions, service
from app.audit.models import AuditDayCount, AuditLog
from app.audit.partitions import midnight, utc_today
from app.audit.schemas import AuditLogFilters
from app.audit.writer import AuditWriter
from app.platform import migrations
from app.platform.db import capped_count
from settings import Settings
from tests.fixtures import services

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects

LIST = "/api/v1/audit-logs?page=1&size=50"


def day(offset: int) -> date:
    return utc_today() + timedelta(days=offset)


def row(moment: datetime, request_id: str, method: str = "GET") -> dict[str, Any]:
    return {
        "created_at": moment,
        "request_id": request_id,
        "method": method,
        "path": "/p",
        "status_code": 200,
        "duration_ms": 1.0,
        "query": "",
        "response_bytes": 0,
    }


@asynccontextmanager
async def fresh_database(backend: str, tmp_dir: Path, name: str) -> AsyncIterator[str]:
    """A migrated database of its own (a purge here may drop days other tests write to),
    with Tortoise open on it; its URL."""
    url = services.backend_url(backend, tmp_dir, scratch=name)
    services.forget_dialect_caches()
    if backend != "sqlite":
        await services.create_server_database(url)
    await services.drop_all_tables(url)
    await migrations.upgrade(url)
    await Tortoise.init(config=Settings(DATABASE_URL=url).tortoise_config())
    try:
        yield url
    finally:
        await Tortoise.close_connections()


async def lay_out_past_days(backend: str, back: int = 5) -> None:
    """Day partitions for the `back` days before today on a fresh database, for a purge to
    retire (SQLite has none)."""
    if backend == "postgres":  # the migration's first partition gives way to days
        await partitions.drop_before(midnight(day(0)))
        await partitions.ensure(back_days=back, ahead_days=1)
    elif backend == "mysql":  # MySQL appends days only ahead: the oldest one is split
        days = ", ".join(
            f"PARTITION p{day(n):%Y%m%d} VALUES LESS THAN ('{day(n + 1)} 00:00:00')"
            for n in range(-back, 0)
        )
        await Tortoise.get_connection("default").execute_script(
            "ALTER TABLE audit_log REORGANIZE PARTITION p_legacy INTO ("
            f"PARTITION p_legacy VALUES LESS THAN ('{day(-back)} 00:00:00'), {days})"
        )


async def kept() -> dict[date, int]:
    return {c.day: c.entries for c in await AuditDayCount.all() if c.entries}


async def counted() -> dict[date, int]:
    """The rows per UTC day, counted from the table itself."""
    found: dict[date, int] = {}
    for moment in await AuditLog.all().values_list("created_at", flat=True):
        found[moment.date()] = found.get(moment.date(), 0) + 1
    return found


@pytest.mark.usefixtures("app")
async def test_the_counts_follow_every_insert_and_delete() -> None:
    writer = AuditWriter()
    # The writer's own bulk write (COPY on PostgreSQL), over two days, and an ORM insert.
    await writer.insert_rows(
        [row(midnight(day(0)) + timedelta(minutes=n), f"w-{n}") for n in range(7)]
        + [row(midnight(day(-1)) + timedelta(hours=23, minutes=59), "late")]
    )
    await AuditLog.bulk_create([AuditLog(**row(midnight(day(-1)), f"orm-{n}")) for n in range(3)])
    assert await kept() == await counted() == {day(0): 7, day(-1): 4}

    await AuditLog.filter(request_id__in=["w-1", "orm-2"]).delete()
    assert await kept() == await counted() == {day(0): 6, day(-1): 3}
    assert await day_counts.total() == 9


@pytest.mark.usefixtures("app")
async def test_concurrent_writers_leave_exact_counts() -> None:
    """Eight writers, forty batches, all on today's count row at once."""
    moment = midnight(day(0)) + timedelta(hours=1)

    async def write(writer_number: int) -> None:
        writer = AuditWriter()
        for batch in range(5):
            await writer.insert_rows(
                [row(moment, f"{writer_number}-{batch}-{n}") for n in range(25)]
            )

    await asyncio.gather(*(write(n) for n in range(8)))
    assert await kept() == await counted() == {day(0): 1000}


async def test_a_purge_takes_the_days_counts_with_the_days(
    backend: str, test_tmp_dir: Path
) -> None:
    """Whole partitions on PostgreSQL and MySQL (no trigger fires: the purge deletes the
    counts), batches of rows on SQLite (the trigger counts them out)."""
    async with fresh_database(backend, test_tmp_dir, "day_counts_purge"):
        await lay_out_past_days(backend)
        moments = [midnight(day(-n)) + timedelta(hours=3) for n in (5, 4, 4, 1, 0)]
        await AuditLog.bulk_create([AuditLog(**row(m, f"p-{n}")) for n, m in enumerate(moments)])
        assert await kept() == {day(-5): 1, day(-4): 2, day(-1): 1, day(0): 1}

        report = await service.purge(older_than_days=2, batch_size=1)
        retired = {p.day for p in report.partitions}
        assert retired >= ({day(-5), day(-4), day(-3)} if backend != "sqlite" else set())
        assert report.rows_deleted == (3 if backend == "sqlite" else 0)
        assert await AuditDayCount.filter(day__lt=day(-2)).count() == 0
        assert await kept() == await counted() == {day(-1): 1, day(0): 1}


async def test_the_unfiltered_total_is_the_sum_of_the_kept_counts(
    client: httpx.AsyncClient, superuser_headers: dict[str, str]
) -> None:
    base = midnight(day(0))
    await AuditLog.bulk_create(
        [AuditLog(**row(base - timedelta(minutes=n), f"t-{n}", "POST")) for n in range(60)]
    )
    # The superuser's own requests are recorded too: the unfiltered total counts them.
    before = (await client.get(LIST, headers=superuser_headers)).json()
    assert before["total"] == await AuditLog.all().count() >= 60
    assert before["total_capped"] is False

    # Past the cap by the counts alone: the unfiltered total reads them, a filter counts rows.
    await AuditDayCount.filter(day=day(-1)).delete()
    await AuditDayCount.create(day=day(-1), entries=20_000)
    capped = (await client.get(LIST, headers=superuser_headers)).json()
    assert (capped["total"], capped["pages"], capped["total_capped"]) == (10_000, 200, True)
    filtered = (await client.get(f"{LIST}&method=POST", headers=superuser_headers)).json()
    assert (filtered["total"], filtered["total_capped"]) == (60, False)


@pytest.mark.usefixtures("app")
async def test_no_filter_is_told_apart_from_each_filter() -> None:
    assert not service.narrows(service.AuditLogFilters())
    assert not service.narrows(service.AuditLogFilters(method=""))
    for given in (
        {"user_id": "00000000-0000-0000-0000-000000000001"},
        {"method": "GET"},
        {"status_code": 200},
        {"path_prefix": "/a"},
        {"route": "/a"},
        {"since": "2026-01-01T00:00:00Z"},
        {"until": "2026-01-01T00:00:00Z"},
    ):
        assert service.narrows(service.AuditLogFilters.model_validate(given)), given


async def test_the_migration_counts_the_rows_already_there(
    backend: str, test_tmp_dir: Path
) -> None:
    async with fresh_database(backend, test_tmp_dir, "day_counts_migration") as url:
        await Tortoise.close_connections()
        undone = await migrations.downgrade(url, version=11)
        assert undone[-1].startswith("11_")
        await Tortoise.init(config=Settings(DATABASE_URL=url).tortoise_config())
        moments = [midnight(day(-n)) + timedelta(hours=2) for n in (0, 0, 0, 3)]
        await AuditLog.bulk_create([AuditLog(**row(m, f"m-{n}")) for n, m in enumerate(moments)])
        await Tortoise.close_connections()
        assert (await migrations.upgrade(url))[0] == undone[-1]
        await Tortoise.init(config=Settings(DATABASE_URL=url).tortoise_config())
        assert await kept() == {day(0): 3, day(-3): 1}
        await AuditLog.bulk_create([AuditLog(**row(moments[0], "after"))])
        assert await kept() == {day(0): 4, day(-3): 1}


async def test_each_filters_total_is_the_count_of_its_rows(
    client: httpx.AsyncClient, superuser_headers: dict[str, str]
) -> None:
    """Whatever answers a filtered page's total (on MySQL one equality filter alone reads
    migration 14's kept counts; the rest count rows), it is the number of matching rows.
    The filters leave out the superuser's own requests, which the trail records meanwhile."""
    alice, moment = "00000000-0000-0000-0000-00000000000a", midnight(day(0))
    batch = [
        {
            **row(moment + timedelta(minutes=n), f"f-{n}", ("GET", "POST")[n % 2]),
            "status_code": (200, 201, 404)[n % 3],
            "route": ("/x", "/y", None)[n % 3],
            "user_id": uuid.UUID(alice) if n % 4 else None,
        }
        for n in range(24)
    ]
    await AuditWriter().insert_rows(batch)
    await AuditLog.bulk_create(
        [AuditLog(**{**r, "request_id": f"o{r['request_id']}"}) for r in batch]
    )
    for query in (
        "method=POST",
        "method=post",
        "status_code=201",
        "status_code=404",
        "route=/x",
        "route=/y",
        f"user_id={alice}",
        "method=POST&status_code=201",
        f"route=/x&user_id={alice}",
        "status_code=404&path_prefix=/p",
    ):
        body = (
            await client.get(f"/api/v1/audit-logs?page=1&size=2&{query}", headers=superuser_headers)
        ).json()
        filters = AuditLogFilters.model_validate(dict(p.split("=") for p in query.split("&")))
        expected = await capped_count(service.matching(filters), service.TOTAL_CAP + 1)
        assert (body["total"], body["total_capped"]) == (expected, False), query
        assert expected > 2, query
