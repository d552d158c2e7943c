"""The counts and the per-day rollup kept beside the study records.

Every change is an atomic `records = records + n` upsert run inside the transaction that
writes the records, so two workers writing for one user at once leave exact numbers: the
second waits for the first's row lock instead of reading a number that is about to change.
Each dialect's statement is written once, in app/study/tally_sql.py (PostgreSQL and SQLite
share `ON CONFLICT … DO UPDATE`, MySQL has `ON DUPLICATE KEY UPDATE`).

Rows are locked in one order everywhere (the user's count, then a total slot, then subject
rows sorted by subject, then day rows sorted by key, then the user's runs), so two writers
never wait for each other in a circle.

The runs (`study_run`: a user's streaks, first day to last) change only when a day gains
its first record or loses its last. Every write that can do that (a create, a delete, an
edit to another day) takes the user's count row first, even when the count stays (an edit
adds 0), so one user's run changes take turns and each reads the runs its predecessor
committed (PostgreSQL and MySQL both read committed rows, see settings.py; SQLite has one
writer at a time). A day's change reads at most two runs off (owner, last_day) and writes
at most two rows, however many days or runs the user has.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from tortoise import BaseDBAsyncClient

from app.study.models import StudyRecordCount, StudyRecordTotal
from app.study.tally_sql import SQL as _SQL

# Writers of different users spread over this many rows of the total; reads add them up.
TOTAL_SLOTS = 16

DayKey = tuple[date, str]  # (studied_on, subject)


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


def as_date(value: Any) -> date:
    """A date column's value as a date, whichever driver read it."""
    # SQLite hands dates back as ISO text, the MySQL driver may as datetimes.
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        return value.date()
    return value


def _next(day: date, days: int) -> date | None:
    """`day` moved by `days`, or None past the calendar's ends."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return None


@dataclass(frozen=True, slots=True)
class _Run:
    id: int
    first_day: date
    last_day: date

    @classmethod
    def of(cls, row: Any) -> "_Run":
        return cls(int(row["id"]), as_date(row["first_day"]), as_date(row["last_day"]))


def _length(first_day: date, last_day: date) -> int:
    return (last_day - first_day).days + 1


class Delta:
    """The changes one write makes to one user's counts, applied together by `apply`."""

    def __init__(self, owner_id: uuid.UUID) -> None:
        self.owner_id = owner_id
        self.records = 0
        self.days: dict[DayKey, list[int]] = defaultdict(lambda: [0, 0])  # minutes, records
        self.subjects: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # minutes, records

    def add(self, *, studied_on: date, subject: str, minutes: int, sign: int = 1) -> None:
        self.records += sign
        for kept in (self.days[(studied_on, subject)], self.subjects[subject]):
            kept[0] += sign * minutes
            kept[1] += sign

    def dates(self) -> dict[date, int]:
        """The days whose number of records changes, by how much (the days that may gain
        their first record or lose their last)."""
        by_date: dict[date, int] = defaultdict(int)
        for (studied_on, _), (_, records) in self.days.items():
            by_date[studied_on] += records
        return {day: records for day, records in by_date.items() if records}

    async def apply(self, conn: BaseDBAsyncClient) -> None:
        await self.apply_count(conn)
        if self.records:
            sql = _SQL[_dialect(conn)]
            await conn.execute_query(sql["total"], [slot_of(self.owner_id), self.records])
        await self.apply_rows(conn)

    async def apply_count(self, conn: BaseDBAsyncClient) -> None:
        if self.records or self.dates():
            # Also when the count stays (an edit to another day): this row lock is what
            # makes one user's run changes take turns.
            sql = _SQL[_dialect(conn)]
            await conn.execute_query(sql["count"], [_owner(conn, self.owner_id), self.records])

    async def apply_rows(self, conn: BaseDBAsyncClient) -> None:
        """The subject rows, the day rows and the runs (after the count and the slot)."""
        sql = _SQL[_dialect(conn)]
        owner = _owner(conn, self.owner_id)
        dates = self.dates()
        for subject, (minutes, records) in sorted(self.subjects.items()):
            if not minutes and not records:
                continue  # an edit that kept its subject and minutes
            await conn.execute_query(sql["subject"], [owner, subject, minutes, records])
            if records < 0:
                await conn.execute_query(sql["subject_gone"], [owner, subject])
        for (studied_on, subject), (minutes, records) in sorted(self.days.items()):
            if not minutes and not records:
                continue  # an edit that moved nothing (or moved away and back)
            day = _day(conn, studied_on)
            await conn.execute_query(sql["day"], [owner, day, subject, minutes, records])
            if records < 0:
                await conn.execute_query(sql["day_gone"], [owner, day, subject])
        await keep_runs(conn, self.owner_id, dates)


async def apply_together(conn: BaseDBAsyncClient, deltas: list[Delta]) -> None:
    """Several users' deltas in one transaction (a bulk insert), in the lock order of one
    write across all of them: every count (in owner order), then the total's slots (in slot
    order, each once), then each user's subject rows, day rows and runs. One owner after the
    other instead, a bulk write holding a slot could wait for a single write's count while
    that write waits for the slot."""
    deltas = sorted(deltas, key=lambda delta: delta.owner_id)
    for delta in deltas:
        await delta.apply_count(conn)
    slots: dict[int, int] = defaultdict(int)
    for delta in deltas:
        slots[slot_of(delta.owner_id)] += delta.records
    sql = _SQL[_dialect(conn)]
    for slot, records in sorted(slots.items()):
        if records:
            await conn.execute_query(sql["total"], [slot, records])
    for delta in deltas:
        await delta.apply_rows(conn)


async def keep_runs(conn: BaseDBAsyncClient, owner_id: uuid.UUID, dates: dict[date, int]) -> None:
    """The user's runs after a write that changed these days' numbers of records (by how
    much): call it after the day rows are written, in the same transaction, with the user's
    count row locked (the lock order's last step)."""
    sql = _SQL[_dialect(conn)]
    owner = _owner(conn, owner_id)
    for studied_on, records in sorted(dates.items()):
        if records > 0:
            await _gained(conn, sql, owner, studied_on)
        elif records < 0:
            await _lost(conn, sql, owner, studied_on)


async def _gained(conn: BaseDBAsyncClient, sql: dict[str, str], owner: Any, day: date) -> None:
    """A day with new records: if it had none before, it extends the run that ends the day
    before or starts the day after, joins the two, or starts a run of its own."""
    before, after = _next(day, -1), _next(day, 1)
    _, rows = await conn.execute_query(sql["runs_near"], [owner, _day(conn, before or day)])
    runs = [_Run.of(row) for row in rows]
    if runs and runs[0].first_day <= day <= runs[0].last_day:
        return  # the day had records already
    left = runs.pop(0) if runs and runs[0].last_day == before else None
    right = runs[0] if runs and runs[0].first_day == after else None
    if left and right:
        # The later run goes first: the earlier one takes its last day (a unique key).
        await conn.execute_query(sql["run_gone"], [right.id])
        await _set(conn, sql, left.id, left.first_day, right.last_day)
    elif left:
        await _set(conn, sql, left.id, left.first_day, day)
    elif right:
        await _set(conn, sql, right.id, day, right.last_day)
    else:
        await conn.execute_query(sql["run_add"], [owner, _day(conn, day), _day(conn, day), 1])


async def _lost(conn: BaseDBAsyncClient, sql: dict[str, str], owner: Any, day: date) -> None:
    """A day that lost records: if it has none left, its run shrinks, splits in two or goes."""
    _, rows = await conn.execute_query(sql["day_left"], [owner, _day(conn, day)])
    if rows:
        return
    _, rows = await conn.execute_query(sql["runs_near"], [owner, _day(conn, day)])
    run = _Run.of(rows[0]) if rows else None
    if run is None or run.first_day > day:
        return  # no run holds the day (nothing to undo)
    if run.first_day == run.last_day:
        await conn.execute_query(sql["run_gone"], [run.id])
    elif day == run.first_day:
        await _set(conn, sql, run.id, day + timedelta(days=1), run.last_day)
    elif day == run.last_day:
        await _set(conn, sql, run.id, run.first_day, day - timedelta(days=1))
    else:
        # The earlier part keeps the row (and frees the last day for the later part's row).
        await _set(conn, sql, run.id, run.first_day, day - timedelta(days=1))
        after = day + timedelta(days=1)
        await conn.execute_query(
            sql["run_add"],
            [owner, _day(conn, after), _day(conn, run.last_day), _length(after, run.last_day)],
        )


async def _set(
    conn: BaseDBAsyncClient, sql: dict[str, str], run_id: int, first_day: date, last_day: date
) -> None:
    await conn.execute_query(
        sql["run_set"],
        [_day(conn, first_day), _day(conn, last_day), _length(first_day, last_day), run_id],
    )


async def drop_subject_if_empty(conn: BaseDBAsyncClient, owner_id: uuid.UUID, subject: str) -> None:
    """Deletes the subject row of (owner, subject) if it holds no records now."""
    sql = _SQL[_dialect(conn)]["subject_gone"]
    await conn.execute_query(sql, [_owner(conn, owner_id), subject])


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
    """Before an account is deleted (its count, day, subject and run rows go with it by
    cascade): takes its records out of the total. Call it with the user's row locked."""
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
