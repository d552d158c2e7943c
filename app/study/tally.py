"""The counts and the per-day rollup kept beside the study records.

Every change is an atomic `records = records + n` upsert run inside the transaction that
writes the records, so two workers writing for one user at once leave exact numbers: the
second waits for the first's row lock instead of reading a number that is about to change.
Each dialect's statement is written once here (PostgreSQL and SQLite share
`ON CONFLICT … DO UPDATE`, MySQL has `ON DUPLICATE KEY UPDATE`).

Rows are locked in one order everywhere (the user's count, then a total slot, then day
rows sorted by key), so two writers never wait for each other in a circle.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from tortoise import BaseDBAsyncClient

from app.study.models import StudyRecordCount, StudyRecordTotal

# Writers of different users spread over this many rows of the total; reads add them up.
TOTAL_SLOTS = 16

DayKey = tuple[date, str]  # (studied_on, subject)

_SQL: dict[str, dict[str, str]] = {
    "postgres": {
        "count": (
            'INSERT INTO "study_record_count" ("owner_id", "records") VALUES ($1, $2) '
            'ON CONFLICT ("owner_id") DO UPDATE '
            'SET "records" = "study_record_count"."records" + EXCLUDED."records"'
        ),
        "total": (
            'INSERT INTO "study_record_total" ("slot", "records") VALUES ($1, $2) '
            'ON CONFLICT ("slot") DO UPDATE '
            'SET "records" = "study_record_total"."records" + EXCLUDED."records"'
        ),
        "day": (
            'INSERT INTO "study_day" ("owner_id", "studied_on", "subject", "minutes", "records") '
            "VALUES ($1, $2, $3, $4, $5) "
            'ON CONFLICT ("owner_id", "studied_on", "subject") DO UPDATE '
            'SET "minutes" = "study_day"."minutes" + EXCLUDED."minutes", '
            '"records" = "study_day"."records" + EXCLUDED."records"'
        ),
        "day_gone": (
            'DELETE FROM "study_day" WHERE "owner_id" = $1 AND "studied_on" = $2 '
            'AND "subject" = $3 AND "records" <= 0'
        ),
        "owner_count": (
            'SELECT "records" FROM "study_record_count" WHERE "owner_id" = $1 FOR UPDATE'
        ),
    },
    "sqlite": {
        "count": (
            'INSERT INTO "study_record_count" ("owner_id", "records") VALUES (?, ?) '
            'ON CONFLICT ("owner_id") DO UPDATE SET "records" = "records" + excluded."records"'
        ),
        "total": (
            'INSERT INTO "study_record_total" ("slot", "records") VALUES (?, ?) '
            'ON CONFLICT ("slot") DO UPDATE SET "records" = "records" + excluded."records"'
        ),
        "day": (
            'INSERT INTO "study_day" ("owner_id", "studied_on", "subject", "minutes", "records") '
            "VALUES (?, ?, ?, ?, ?) "
            'ON CONFLICT ("owner_id", "studied_on", "subject") DO UPDATE '
            'SET "minutes" = "minutes" + excluded."minutes", '
            '"records" = "records" + excluded."records"'
        ),
        "day_gone": (
            'DELETE FROM "study_day" WHERE "owner_id" = ? AND "studied_on" = ? '
            'AND "subject" = ? AND "records" <= 0'
        ),
        # SQLite has no row locks: its writers take turns for the whole database.
        "owner_count": 'SELECT "records" FROM "study_record_count" WHERE "owner_id" = ?',
    },
    "mysql": {
        "count": (
            "INSERT INTO `study_record_count` (`owner_id`, `records`) VALUES (%s, %s) "
            "ON DUPLICATE KEY UPDATE `records` = `records` + VALUES(`records`)"
        ),
        "total": (
            "INSERT INTO `study_record_total` (`slot`, `records`) VALUES (%s, %s) "
            "ON DUPLICATE KEY UPDATE `records` = `records` + VALUES(`records`)"
        ),
        "day": (
            "INSERT INTO `study_day` (`owner_id`, `studied_on`, `subject`, `minutes`, `records`) "
            "VALUES (%s, %s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE `minutes` = `minutes` + VALUES(`minutes`), "
            "`records` = `records` + VALUES(`records`)"
        ),
        "day_gone": (
            "DELETE FROM `study_day` WHERE `owner_id` = %s AND `studied_on` = %s "
            "AND `subject` = %s AND `records` <= 0"
        ),
        "owner_count": (
            "SELECT `records` FROM `study_record_count` WHERE `owner_id` = %s FOR UPDATE"
        ),
    },
}


def _dialect(conn: BaseDBAsyncClient) -> str:
    return conn.capabilities.dialect


def _owner(conn: BaseDBAsyncClient, owner_id: uuid.UUID) -> Any:
    # asyncpg takes UUIDs for the uuid column; the others store the text form.
    return owner_id if _dialect(conn) == "postgres" else str(owner_id)


def _day(conn: BaseDBAsyncClient, day: date) -> Any:
    # Tortoise stores SQLite dates as ISO text; the drivers of the others take dates.
    return day.isoformat() if _dialect(conn) == "sqlite" else day


def slot_of(owner_id: uuid.UUID) -> int:
    return owner_id.int % TOTAL_SLOTS


class Delta:
    """The changes one write makes to one user's counts, applied together by `apply`."""

    def __init__(self, owner_id: uuid.UUID) -> None:
        self.owner_id = owner_id
        self.records = 0
        self.days: dict[DayKey, list[int]] = defaultdict(lambda: [0, 0])  # minutes, records

    def add(self, *, studied_on: date, subject: str, minutes: int, sign: int = 1) -> None:
        self.records += sign
        day = self.days[(studied_on, subject)]
        day[0] += sign * minutes
        day[1] += sign

    async def apply(self, conn: BaseDBAsyncClient) -> None:
        sql = _SQL[_dialect(conn)]
        owner = _owner(conn, self.owner_id)
        if self.records:
            await conn.execute_query(sql["count"], [owner, self.records])
            await conn.execute_query(sql["total"], [slot_of(self.owner_id), self.records])
        for (studied_on, subject), (minutes, records) in sorted(self.days.items()):
            if not minutes and not records:
                continue  # an edit that moved nothing (or moved away and back)
            day = _day(conn, studied_on)
            await conn.execute_query(sql["day"], [owner, day, subject, minutes, records])
            if records < 0:
                await conn.execute_query(sql["day_gone"], [owner, day, subject])


async def drop_day_if_empty(
    conn: BaseDBAsyncClient, owner_id: uuid.UUID, studied_on: date, subject: str
) -> None:
    """Deletes the day row of (owner, day, subject) if it holds no records now."""
    sql = _SQL[_dialect(conn)]["day_gone"]
    await conn.execute_query(sql, [_owner(conn, owner_id), _day(conn, studied_on), subject])


def deltas(rows: Iterable[tuple[uuid.UUID, date, str, int]]) -> list[Delta]:
    """(owner_id, studied_on, subject, minutes) of new records → one Delta per owner, in
    owner order (the lock order of a write that touches several users)."""
    by_owner: dict[uuid.UUID, Delta] = {}
    for owner_id, studied_on, subject, minutes in rows:
        delta = by_owner.get(owner_id) or by_owner.setdefault(owner_id, Delta(owner_id))
        delta.add(studied_on=studied_on, subject=subject, minutes=minutes)
    return [by_owner[key] for key in sorted(by_owner)]


async def delete_owner_records(conn: BaseDBAsyncClient, owner_id: uuid.UUID) -> None:
    """Before an account is deleted (its count and day rows go with it by cascade): takes
    its records out of the total. Call it with the user's row already locked."""
    sql = _SQL[_dialect(conn)]
    _, rows = await conn.execute_query(sql["owner_count"], [_owner(conn, owner_id)])
    records = int(rows[0]["records"]) if rows else 0
    if records:
        await conn.execute_query(sql["total"], [slot_of(owner_id), -records])


async def owner_records(owner_id: uuid.UUID) -> int:
    row = await StudyRecordCount.filter(owner_id=owner_id).first().values_list("records", flat=True)
    return int(row or 0)


async def all_records() -> int:
    slots = await StudyRecordTotal.all().values_list("records", flat=True)
    return sum(int(value) for value in slots)
