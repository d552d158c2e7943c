"""PostgreSQL: a study record's write and every kept count it moves, in one statement.

On the other dialects app/study/records.py runs the write and then `tally.Delta.apply`, a
statement per kept row inside one transaction. Here a data-modifying CTE does it all in
one round trip: the record's INSERT, UPDATE or DELETE, then the owner's count, the total's
slot and the day rows, each upsert the same `+ n` as tally's. Each step reads the one before
it (`FROM` the previous CTE), which makes PostgreSQL run them in that order, so rows are
locked in tally's order (the record, the count, the slot, the day rows by key, subjects
compared by code point as Python sorts them, whatever the column's collation) and two
writers never wait for each other in a circle.

A day or subject row that a delete or an edit leaves without records must go, which a
statement cannot do to a row it has just changed: the statement returns the fewest records
left on a day and a subject it changed, and the caller deletes the emptied row in the same
transaction (so no reader ever sees it).

The runs of consecutive days (`tally.keep_runs`) change only when a day gains its first
record or loses its last, and must read the runs another writer committed after the
statement began, which one statement cannot (it reads one snapshot): so they follow in the
same transaction, with the owner's count row locked by the statement, and only when the
statement says a day may have changed that way (a create that made its day row, a delete
that emptied one, an edit to another day). An edit to another day takes the count row
(adding 0) for that lock, before the day rows as everywhere.

A create share-locks the owner's row before anything else (an account's deletion locks
that row first, then the count), and finds no owner once the account is gone.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

import asyncpg
from tortoise import BaseDBAsyncClient, timezone
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.transactions import in_transaction

from app.study import tally
from app.study.errors import StudyRecordNotFound
from app.study.models import StudyRecord
from app.study.schemas import StudyRecordCreate, StudyRecordRead

# The record's columns as the read model has them (the table's own names), and the ones
# a client writes.
_COLUMNS = tuple(StudyRecordRead.model_fields)
_EDITABLE = tuple(StudyRecordCreate.model_fields)
_LEFT = "day_records_left__"
_SUBJECT_LEFT = "subject_records_left__"
_DAY_RECORDS = "day_records__"
_OLD_DAY, _OLD_SUBJECT = "old_studied_on__", "old_subject__"

_COUNT = (
    'INSERT INTO "study_record_count" ("owner_id", "records") '
    "SELECT {owner}, {n} FROM {source} "
    'ON CONFLICT ("owner_id") DO UPDATE '
    'SET "records" = "study_record_count"."records" + EXCLUDED."records" RETURNING 1'
)
_TOTAL = (
    'INSERT INTO "study_record_total" ("slot", "records") SELECT {slot}, {n} FROM {source} '
    'ON CONFLICT ("slot") DO UPDATE '
    'SET "records" = "study_record_total"."records" + EXCLUDED."records" RETURNING 1'
)
_SUBJECTS = (
    'INSERT INTO "study_subject" ("owner_id", "subject", "minutes", "records") '
    "{select} "
    'ON CONFLICT ("owner_id", "subject") DO UPDATE '
    'SET "minutes" = "study_subject"."minutes" + EXCLUDED."minutes", '
    '"records" = "study_subject"."records" + EXCLUDED."records" RETURNING "records"'
)
_DAYS = (
    'INSERT INTO "study_day" ("owner_id", "studied_on", "subject", "minutes", "records") '
    "{select} "
    'ON CONFLICT ("owner_id", "studied_on", "subject") DO UPDATE '
    'SET "minutes" = "study_day"."minutes" + EXCLUDED."minutes", '
    '"records" = "study_day"."records" + EXCLUDED."records" RETURNING "records"'
)


def _returning(table: str = "") -> str:
    prefix = f'"{table}".' if table else ""
    return ", ".join(f'{prefix}"{name}"' for name in _COLUMNS)


@functools.cache
def _create_sql(*, known_day: bool = False) -> str:
    """$1 owner, $2-$6 the input fields, $7 now, $8 the total's slot.

    `known_day`: only onto a (day, subject) row that has records. The statement's snapshot
    must show one, or it writes nothing and returns no row (the caller then writes in a
    transaction); it locks that row after the subject rows (tally's order), so the day
    cannot empty meanwhile: it keeps a record, no run changes, and the statement is the
    whole write. Should another writer have emptied the row after the snapshot was taken,
    the statement fails on purpose (a division by zero) and is rolled back."""
    inputs = ", ".join(f'"{name}"' for name in _EDITABLE)
    subjects = _SUBJECTS.format(
        select='SELECT "owner_id", "subject", "minutes", 1 FROM "rec", "tot"'
    )
    # The (day, subject) row the record counts into, with a record in it.
    day_row = (
        '"d"."owner_id" = $1 AND "d"."studied_on" = $5 AND "d"."subject" = $2 AND "d"."records" > 0'
    )
    sources, day_source = '"usr"', '"sub"'
    probe = guard = only_if = ""
    if known_day:
        probe = f'"probe" AS (SELECT 1 FROM "study_day" AS "d" WHERE {day_row}), '  # noqa: S608
        sources = '"usr", "probe"'
        guard = (
            f'"known" AS (SELECT "d"."id" FROM "study_day" AS "d", "sub" WHERE {day_row} '  # noqa: S608
            'FOR UPDATE OF "d"), '
        )
        day_source = '"known"'
        # 1 / 0 only when the record was written but its day row is gone: the rollback.
        only_if = (
            ' WHERE 1 / ((SELECT COUNT(*) FROM "known") + 1 - (SELECT COUNT(*) FROM "rec")) = 1'
        )
    values = f"SELECT $1, $2, $3, $4, $5, $6, $7, $7 FROM {sources}"  # noqa: S608  (constants)
    days = _DAYS.format(
        select='SELECT "owner_id", "studied_on", "subject", "minutes", 1 FROM "rec", '  # noqa: S608
        + day_source
    )
    count = _COUNT.format(owner="$1", n="1", source='"rec"')
    total = _TOTAL.format(slot="$8", n="1", source='"cnt"')
    # Our constants only; every value is a parameter. The owner's row is share-locked
    # first (its foreign key check would only come at the statement's end, after the
    # count's lock): an account's deletion holds that row, then the count, so a create
    # waits for it before locking anything, and finds no owner once it is gone.
    return (
        f'WITH "usr" AS (SELECT 1 FROM "user" WHERE "id" = $1 FOR KEY SHARE), {probe}'  # noqa: S608
        f'"rec" AS (INSERT INTO "study_record" ("owner_id", {inputs}, "created_at", '
        f'"updated_at") {values} RETURNING {_returning()}), '
        f'"cnt" AS ({count}), "tot" AS ({total}), "sub" AS ({subjects}), {guard}'
        f'"day" AS ({days}) '
        f'SELECT "rec".*, "day"."records" AS "{_DAY_RECORDS}" FROM "rec", "day"{only_if}'
    )


@functools.cache
def _delete_sql() -> str:
    """$1 record id, $2 owner, $3 the total's slot."""
    subjects = _SUBJECTS.format(
        select='SELECT "owner_id", "subject", -"minutes", -1 FROM "gone", "tot"'
    )
    days = _DAYS.format(
        select='SELECT "owner_id", "studied_on", "subject", -"minutes", -1 FROM "gone", "sub"'
    )
    count = _COUNT.format(owner="$2", n="-1", source='"gone"')
    total = _TOTAL.format(slot="$3", n="-1", source='"cnt"')
    # Our constants only; every value is a parameter.
    return (
        f'WITH "gone" AS (DELETE FROM "study_record" WHERE "id" = $1 AND "owner_id" = $2 '  # noqa: S608
        f"RETURNING {_returning()}), "
        f'"cnt" AS ({count}), "tot" AS ({total}), "sub" AS ({subjects}), '
        f'"day" AS ({days}) '
        f'SELECT "gone".*, "day"."records" AS "{_LEFT}", "sub"."records" AS "{_SUBJECT_LEFT}" '
        f'FROM "gone", "sub", "day"'
    )


@functools.cache
def _update_sql(fields: tuple[str, ...]) -> str:
    """$1 record id, $2 owner, $3 now, then the new values of `fields` in their order.

    The old row is read locked, the new one written; an edit that may move the record to
    another day takes the owner's count row next (adding 0: the lock the runs need); then
    the subject rows and the day rows get the difference, summed per subject and per (day,
    subject) so an edit within one touches its row once, in key order.
    """
    changes = ", ".join(f'"{name}" = ${n}' for n, name in enumerate(fields, start=4))
    moves_day = "studied_on" in fields
    count = _COUNT.format(owner="$2", n="0", source='"new"')
    lock = f'"cnt" AS ({count}), ' if moves_day else ""
    after_lock = ', "cnt"' if moves_day else ""
    subjects = _SUBJECTS.format(
        select=(
            # Our constants only; every value is a parameter.
            'SELECT $2, "subject", SUM("minutes"), SUM("records") FROM ('  # noqa: S608
            'SELECT "subject", -"minutes" AS "minutes", -1 AS "records" '
            'FROM "old" UNION ALL SELECT "subject", "minutes", 1 FROM "new"'
            f') AS "moved"{after_lock} GROUP BY "subject" '
            'HAVING SUM("minutes") <> 0 OR SUM("records") <> 0 ORDER BY "subject" COLLATE "C"'
        )
    )
    days = _DAYS.format(
        select=(
            'SELECT $2, "studied_on", "subject", SUM("minutes"), SUM("records") FROM ('
            'SELECT "studied_on", "subject", -"minutes" AS "minutes", -1 AS "records" '
            'FROM "old" UNION ALL SELECT "studied_on", "subject", "minutes", 1 FROM "new"'
            ') AS "moved", (SELECT COUNT(*) FROM "sub") AS "after_sub" '
            'GROUP BY "studied_on", "subject" '
            'HAVING SUM("minutes") <> 0 OR SUM("records") <> 0 '
            # Code point order, as tally sorts its Python strings, whatever the collation.
            'ORDER BY "studied_on", "subject" COLLATE "C"'
        )
    )
    # Our constants only; every value is a parameter.
    return (
        f'WITH "old" AS (SELECT {_returning()} FROM "study_record" '  # noqa: S608
        f'WHERE "id" = $1 AND "owner_id" = $2 FOR UPDATE), '
        f'"new" AS (UPDATE "study_record" SET {changes}, "updated_at" = $3 FROM "old" '
        f'WHERE "study_record"."id" = "old"."id" RETURNING {_returning("study_record")}), '
        f"{lock}"
        f'"sub" AS ({subjects}), "day" AS ({days}) '
        f'SELECT "new".*, (SELECT MIN("records") FROM "day") AS "{_LEFT}", '
        f'(SELECT MIN("records") FROM "sub") AS "{_SUBJECT_LEFT}", '
        f'"old"."studied_on" AS "{_OLD_DAY}", "old"."subject" AS "{_OLD_SUBJECT}" '
        f'FROM "new", "old"'
    )


def _record(row: Any) -> StudyRecord:
    return StudyRecord._init_from_db(**{name: row[name] for name in _COLUMNS})  # pylint: disable=protected-access  # Tortoise's own constructor for a fetched row


async def _fetch_one(conn: BaseDBAsyncClient, sql: str, params: list[Any]) -> Any:
    """The statement's first row (None without one). Outside a transaction on the driver's
    own connection from the pool, as Tortoise would take it, without its wrapping around
    one query (the log line, the query's upper-casing, two frames of exception
    translation): its errors are translated as Tortoise translates them."""
    pool = None if isinstance(conn, TransactionalDBClient) else getattr(conn, "_pool", None)
    if pool is None:  # in a transaction, or before the pool is made
        _, rows = await conn.execute_query(sql, params)
        return rows[0] if rows else None
    connection = await pool.acquire()
    try:
        rows = await connection.fetch(sql, *params)
        return rows[0] if rows else None
    except (asyncpg.SyntaxOrAccessError, asyncpg.exceptions.DataError) as exc:
        raise OperationalError(exc) from exc
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(exc) from exc
    finally:
        await pool.release(connection)


async def create_row(conn: BaseDBAsyncClient, owner_id: uuid.UUID, values: dict[str, Any]) -> Any:
    """The new record's row (the read model's columns by name, and one more), counted.
    Onto a day and subject that already have records (the usual case) one statement,
    committed on its own; otherwise, in one transaction, the statement and then the runs
    (its day may have had no record)."""
    params = [owner_id, *(values[name] for name in _EDITABLE), timezone.now()]
    params.append(tally.slot_of(owner_id))
    try:
        row = await _fetch_one(conn, _create_sql(known_day=True), params)
        if row is not None:
            return row
        # None: the day and subject had no record, or the owner is gone (told below).
    except OperationalError as exc:  # the row emptied after the statement's snapshot
        if not isinstance(exc.__cause__, asyncpg.exceptions.DivisionByZeroError):
            raise
    async with in_transaction() as tx:
        _, rows = await tx.execute_query(_create_sql(), params)
        if not rows:
            # The account was deleted meanwhile: what the foreign key answers on the others.
            raise IntegrityError("the record's owner no longer exists")
        if rows[0][_DAY_RECORDS] == 1:
            await tally.keep_runs(tx, owner_id, {rows[0]["studied_on"]: 1})
    return rows[0]


async def create(
    conn: BaseDBAsyncClient, owner_id: uuid.UUID, values: dict[str, Any]
) -> StudyRecord:
    """`create_row`, as the model."""
    return _record(await create_row(conn, owner_id, values))


async def delete(conn: BaseDBAsyncClient, record: StudyRecord) -> StudyRecord:
    """Deletes the record (as it is now) and counts it out; StudyRecordNotFound when
    another request deleted it first. Call inside a transaction."""
    owner_id = record.owner_id
    _, rows = await conn.execute_query(
        _delete_sql(), [record.id, owner_id, tally.slot_of(owner_id)]
    )
    if not rows:
        raise StudyRecordNotFound()
    gone = _record(rows[0])
    if rows[0][_SUBJECT_LEFT] <= 0:
        await tally.drop_subject_if_empty(conn, owner_id, gone.subject)
    if rows[0][_LEFT] <= 0:
        await tally.drop_day_if_empty(conn, owner_id, gone.studied_on, gone.subject)
        await tally.keep_runs(conn, owner_id, {gone.studied_on: -1})
    return gone


async def update(
    conn: BaseDBAsyncClient, record: StudyRecord, changes: dict[str, Any]
) -> StudyRecord:
    """Writes only the changed columns and moves the day rows; StudyRecordNotFound when the
    record was deleted meanwhile. Call inside a transaction."""
    fields = tuple(name for name in _EDITABLE if name in changes)
    owner_id = record.owner_id
    params = [record.id, owner_id, timezone.now(), *(changes[name] for name in fields)]
    _, rows = await conn.execute_query(_update_sql(fields), params)
    if not rows:
        raise StudyRecordNotFound()
    row = rows[0]
    if row[_SUBJECT_LEFT] is not None and row[_SUBJECT_LEFT] <= 0:
        # Only the subject the record left can have emptied.
        await tally.drop_subject_if_empty(conn, owner_id, row[_OLD_SUBJECT])
    if row[_LEFT] is not None and row[_LEFT] <= 0:
        # Only the day the record left can have emptied (the day it moved to gained one).
        await tally.drop_day_if_empty(conn, owner_id, row[_OLD_DAY], row[_OLD_SUBJECT])
    record = _record(row)
    if record.studied_on != row[_OLD_DAY]:
        await tally.keep_runs(conn, owner_id, {row[_OLD_DAY]: -1, record.studied_on: 1})
    return record
