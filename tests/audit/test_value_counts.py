"""MySQL's kept counts per day and value of each equality filter (app/audit/value_counts.py,
migration 14): exact after the writer's batches, other inserts, deletes, a deleted user's id
cleared, a purge, concurrent writers and the migration of rows already there; a page with
one such filter alone takes its total from them, any other page counts rows."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tortoise import Tortoise
from tortoise.transactions import in_transaction

from app.audit import service, value_counts
from app.audit.models import AuditLog
from app.audit.partitions import midnight
from app.audit.schemas import AuditLogFilters
from app.audit.writer import AuditWriter
from app.platform import migrations
from settings import Settings
from tests.audit.test_day_counts import day, fresh_database, lay_out_past_days, row

# Pages of 2: a page holding the whole result counts nothing (its rows are the total).
LIST = "/api/v1/audit-logs?page=1&size=2"
ALICE = uuid.UUID(int=1)
BOB = uuid.UUID(int=2)


@pytest.fixture
def backend() -> str:
    return "mysql"


def entry(moment: Any, request_id: str, **values: Any) -> dict[str, Any]:
    return {**row(moment, request_id), "route": "/api/v1/things", **values}


async def kept() -> Counter[tuple[str, str, date]]:
    _, rows = await Tortoise.get_connection("default").execute_query(
        "SELECT `field`, `value`, `day`, `entries` FROM `audit_value_count` WHERE `entries` <> 0"
    )
    return Counter({(r["field"], r["value"], r["day"]): int(r["entries"]) for r in rows})


async def counted() -> Counter[tuple[str, str, date]]:
    """The rows per field, value and UTC day, counted from the table itself."""
    found: Counter[tuple[str, str, date]] = Counter()
    for stored in await AuditLog.all().values(*value_counts.FIELDS, "created_at"):
        for field in value_counts.FIELDS:
            if stored[field] is not None:
                value = value_counts.stored(field, stored[field])
                found[(field, value, stored["created_at"].date())] += 1
    return found


async def some_rows(writer: AuditWriter) -> None:
    """The writer's batch over two days, users and routes, and an ORM insert beside it."""
    now = midnight(day(0)) + timedelta(hours=1)
    await writer.insert_rows(
        [entry(now, f"w-{n}", user_id=ALICE, status_code=200 + n % 2) for n in range(6)]
        + [entry(now, "w-bob", user_id=BOB, method="POST", route=None)]
        + [entry(midnight(day(-1)) + timedelta(hours=23), "late", user_id=ALICE)]
    )
    await AuditLog.bulk_create(
        [AuditLog(**entry(midnight(day(-1)), f"orm-{n}", user_id=BOB)) for n in range(3)]
    )


@pytest.mark.usefixtures("app")
async def test_the_counts_follow_inserts_deletes_and_a_cleared_user() -> None:
    await some_rows(AuditWriter())
    found = await kept()
    assert found == await counted()
    assert found[("user_id", str(ALICE), day(0))] == 6
    assert found[("route", "/api/v1/things", day(-1))] == 4
    assert found[("status_code", "201", day(0))] == 3
    assert found[("method", "POST", day(0))] == 1

    await AuditLog.filter(request_id__in=["w-1", "orm-2"]).delete()
    assert await kept() == await counted()
    await service.detach_user(user_id=BOB)  # the user's rows lose its id
    found = await kept()
    assert found == await counted()
    assert not [key for key in found if key[:2] == ("user_id", str(BOB))]


@pytest.mark.usefixtures("app")
async def test_concurrent_writers_leave_exact_counts() -> None:
    moment = midnight(day(0)) + timedelta(hours=2)
    users = [uuid.UUID(int=n + 10) for n in range(4)]

    async def write(number: int) -> None:
        writer = AuditWriter()
        for batch in range(5):
            await writer.insert_rows(
                [
                    entry(moment, f"{number}-{batch}-{n}", user_id=users[(number + n) % 4])
                    for n in range(20)
                ]
            )

    await asyncio.gather(*(write(n) for n in range(6)))
    found = await kept()
    assert found == await counted()
    assert found[("method", "GET", day(0))] == 600


async def test_the_page_total_of_one_filter_comes_from_the_kept_counts(
    client: httpx.AsyncClient, superuser_headers: dict[str, str]
) -> None:
    await some_rows(AuditWriter())
    for query, rows in (
        (f"user_id={ALICE}", 7),
        ("route=/api/v1/things", 10),
        ("route=/API/V1/THINGS", 10),  # the collation folds case, in the filter and the key
        ("status_code=201", 3),
        ("method=post", 1),
    ):
        body = (await client.get(f"{LIST}&{query}", headers=superuser_headers)).json()
        assert (body["total"], len(body["items"]), body["total_capped"]) == (
            rows,
            min(rows, 2),
            False,
        ), query

    # A kept count past the cap shows that the total is read from them; two filters
    # together still count their rows.
    await Tortoise.get_connection("default").execute_query(
        "UPDATE `audit_value_count` SET `entries` = 20000 WHERE `field` = 'method' "
        "AND `value` = 'GET' AND `day` = %s",
        [day(-1)],
    )
    body = (await client.get(f"{LIST}&method=GET", headers=superuser_headers)).json()
    assert (body["total"], body["total_capped"]) == (10_000, True)
    both = (await client.get(f"{LIST}&method=GET&user_id={BOB}", headers=superuser_headers)).json()
    assert (both["total"], both["total_capped"]) == (3, False)


@pytest.mark.usefixtures("app")
async def test_only_one_equality_filter_alone_is_answered_from_the_counts() -> None:
    assert value_counts.kept_for(AuditLogFilters(method="post")) == ("method", "POST")
    assert value_counts.kept_for(AuditLogFilters(status_code=404)) == ("status_code", "404")
    assert value_counts.kept_for(AuditLogFilters(user_id=ALICE)) == ("user_id", str(ALICE))
    assert value_counts.kept_for(AuditLogFilters(route="/a")) == ("route", "/a")
    for filters in (
        AuditLogFilters(),
        AuditLogFilters(method=""),
        AuditLogFilters(method="GET", status_code=200),
        AuditLogFilters(route="/a", path_prefix="/a"),
        AuditLogFilters.model_validate({"method": "GET", "since": "2026-01-01T00:00:00Z"}),
        AuditLogFilters.model_validate({"status_code": 200, "until": "2026-01-01T00:00:00Z"}),
    ):
        assert value_counts.kept_for(filters) is None, filters


async def test_a_purge_takes_the_days_counts_with_the_days(
    backend: str, test_tmp_dir: Path
) -> None:
    async with fresh_database(backend, test_tmp_dir, "value_counts_purge"):
        await lay_out_past_days(backend)
        moments = [midnight(day(-n)) + timedelta(hours=3) for n in (5, 4, 4, 1, 0)]
        await AuditWriter().insert_rows(
            [entry(m, f"p-{n}", user_id=ALICE) for n, m in enumerate(moments)]
        )
        assert await kept() == await counted()
        report = await service.purge(older_than_days=2)
        assert {day(-5), day(-4)} <= {p.day for p in report.partitions}
        found = await kept()
        assert found == await counted()
        assert {key[2] for key in found} == {day(-1), day(0)}


async def test_the_migration_counts_the_rows_already_there(
    backend: str, test_tmp_dir: Path
) -> None:
    async with fresh_database(backend, test_tmp_dir, "value_counts_migration") as url:
        await Tortoise.close_connections()
        undone = await migrations.downgrade(url, version=14)
        assert undone[-1].startswith("14_")
        await Tortoise.init(config=Settings(DATABASE_URL=url).tortoise_config())
        moments = [midnight(day(-n)) + timedelta(hours=2) for n in (0, 0, 3)]
        await AuditLog.bulk_create(
            [AuditLog(**entry(m, f"m-{n}", user_id=BOB)) for n, m in enumerate(moments)]
        )
        await Tortoise.close_connections()
        assert (await migrations.upgrade(url))[0] == undone[-1]
        await Tortoise.init(config=Settings(DATABASE_URL=url).tortoise_config())
        found = await kept()
        assert found == await counted()
        assert found[("user_id", str(BOB), day(0))] == 2
        await AuditLog.bulk_create([AuditLog(**entry(moments[0], "after", user_id=BOB))])
        assert (await kept())[("user_id", str(BOB), day(0))] == 3


@pytest.mark.usefixtures("app")
async def test_a_user_deleted_while_its_batch_is_written_loses_its_counts() -> None:
    """The writer's check after the insert (a mark in the store, say) clears the rows it
    just wrote and the counts they added, together."""

    async def deleted_users(user_ids: set[uuid.UUID], /, *, marks: bool = True) -> set[uuid.UUID]:
        return user_ids & {ALICE} if marks else set()

    writer = AuditWriter()
    writer.deleted_users = deleted_users
    moment = midnight(day(0)) + timedelta(hours=3)
    for n in range(4):
        writer.enqueue(entry(moment, f"d-{n}", user_id=(ALICE, BOB)[n % 2]))
    assert await writer.flush() == 4
    found = await kept()
    assert found == await counted()
    assert found[("user_id", str(BOB), day(0))] == 2
    assert not [key for key in found if key[:2] == ("user_id", str(ALICE))]


@pytest.mark.usefixtures("app")
async def test_clearing_a_user_while_writers_add_its_rows_leaves_exact_counts() -> None:
    """An account deletion's clearing, ten times, beside two writers adding rows of the same
    user on the same day's count rows: nothing fails, and the counts end exact."""
    moment = midnight(day(0)) + timedelta(hours=4)

    async def write(number: int) -> None:
        writer = AuditWriter()
        for batch in range(10):
            await writer.insert_rows(
                [entry(moment, f"c-{number}-{batch}-{n}", user_id=ALICE) for n in range(20)]
            )

    async def clear() -> None:
        for _ in range(10):
            async with in_transaction("default"):
                await service.detach_user(user_id=ALICE)
            await asyncio.sleep(0.005)

    await asyncio.gather(write(0), write(1), clear())
    found = await kept()
    assert found == await counted()
    assert found[("method", "GET", day(0))] == 400
    await service.detach_user(user_id=ALICE)
    assert not [key for key in await kept() if key[:2] == ("user_id", str(ALICE))]


@pytest.mark.usefixtures("app")
async def test_every_change_of_a_counted_column_moves_its_count() -> None:
    moment = midnight(day(0)) + timedelta(hours=5)
    await AuditLog.bulk_create(
        [AuditLog(**entry(moment, f"u-{n}", user_id=(ALICE, None)[n % 2])) for n in range(4)]
    )
    for changes in (
        {"method": "PUT"},
        {"status_code": 503},
        {"route": "/api/v1/other"},
        {"route": None},
        {"created_at": moment - timedelta(days=1)},
        {"user_id": BOB},  # from Alice and from no one
        {"user_id": None},
    ):
        await AuditLog.filter(request_id__in=["u-0", "u-1"]).update(**changes)
        assert await kept() == await counted(), changes
    assert (await kept())[("method", "PUT", day(-1))] == 2


@pytest.mark.usefixtures("app")
async def test_a_writer_from_before_the_migration_is_counted_by_the_trigger() -> None:
    """During a deploy the old workers' batches say they count their days only (migration
    13's variable): the values of their rows are counted row by row."""
    connection = Tortoise.get_connection("default")
    async with connection.acquire_connection() as raw, raw.cursor() as cursor:
        await cursor.execute("SET @studylog_audit_counted = 1")
        await cursor.execute(
            "INSERT INTO audit_log (created_at, request_id, method, path, route, query, "
            "status_code, duration_ms, user_id, response_bytes) VALUES "
            "(UTC_TIMESTAMP(6), 'old', 'GET', '/p', '/r', '', 200, 1.0, %s, 0)",
            [str(ALICE)],
        )
        await cursor.execute("SET @studylog_audit_counted = NULL")
    found = await kept()
    assert found == await counted()
    assert found[("route", "/r", day(0))] == 1


@pytest.mark.usefixtures("app")
async def test_the_kept_value_compares_as_the_filtered_columns_do() -> None:
    _, rows = await Tortoise.get_connection("default").execute_query(
        "SELECT TABLE_NAME, COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND ((TABLE_NAME = 'audit_log' AND COLUMN_NAME IN "
        "('method', 'route', 'user_id')) OR (TABLE_NAME = 'audit_value_count' "
        "AND COLUMN_NAME = 'value'))"
    )
    assert len(rows) == 4
    assert len({row["COLLATION_NAME"] for row in rows}) == 1, rows
