"""PostgreSQL: a study record's write and every kept count it moves, in one statement.

On the other dialects app/study/records.py runs the write and then `tally.Delta.apply`, a
statement per kept row inside one transaction. Here a data-modifying CTE does it all in
one round trip: the record's INSERT, UPDATE or DELETE, then the owner's count, the total's
slot and the day rows, each upsert the same `+ n` as tally's. Each step reads the one before
it (`FROM` the previous CTE), which makes PostgreSQL run them in that order, so rows are
locked in tally's order (the record, the count, the slot, the day rows by key, subjects
compared by code point as Python sorts them, whatever the column's collation) and two
writers never wait for each other in a circle.

A day row that a delete or an edit leaves without records must go, which a statement
cannot do to a row it has just changed: the statement returns the fewest records left on a
day it changed, and the caller deletes the emptied row in the same transaction (so no
reader ever sees it). A create never empties a day: it is one statement and no
transaction, which share-locks the owner's row before anything else (an account's deletion
locks that row first, then the count).
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from tortoise import BaseDBAsyncClient, timezone
from tortoise.exceptions import IntegrityError

from app.study import tally
from app.study.errors import StudyRecordNotFound
from app.study.models import StudyRecord
from app.study.schemas import StudyRecordCreate, StudyRecordRead

# The record's columns as the read model has them (the table's own names), and the ones
# a client writes.
_COLUMNS = tuple(StudyRecordRead.model_fields)
_EDITABLE = tuple(StudyRecordCreate.model_fields)
_LEFT = "day_records_left__"
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
def _create_sql() -> str:
    """$1 owner, $2-$6 the input fields, $7 now, $8 the total's slot."""
    inputs = ", ".join(f'"{name}"' for name in _EDITABLE)
    days = _DAYS.format(
        select='SELECT "owner_id", "studied_on", "subject", "minutes", 1 FROM "rec", "tot"'
    )
    count = _COUNT.format(owner="$1", n="1", source='"rec"')
    total = _TOTAL.format(slot="$8", n="1", source='"cnt"')
    # Our constants only; every value is a parameter. The owner's row is share-locked
    # first (its foreign key check would only come at the statement's end, after the
    # count's lock): an account's deletion holds that row, then the count, so a create
    # waits for it before locking anything, and finds no owner once it is gone.
    return (
        f'WITH "usr" AS (SELECT 1 FROM "user" WHERE "id" = $1 FOR KEY SHARE), '  # noqa: S608
        f'"rec" AS (INSERT INTO "study_record" ("owner_id", {inputs}, "created_at", '
        f'"updated_at") SELECT $1, $2, $3, $4, $5, $6, $7, $7 FROM "usr" '
        f"RETURNING {_returning()}), "
        f'"cnt" AS ({count}), "tot" AS ({total}), '
        f'"day" AS ({days}) '
        f'SELECT "rec".* FROM "rec", "day"'
    )


@functools.cache
def _delete_sql() -> str:
    """$1 record id, $2 owner, $3 the total's slot."""
    days = _DAYS.format(
        select='SELECT "owner_id", "studied_on", "subject", -"minutes", -1 FROM "gone", "tot"'
    )
    count = _COUNT.format(owner="$2", n="-1", source='"gone"')
    total = _TOTAL.format(slot="$3", n="-1", source='"cnt"')
    # Our constants only; every value is a parameter.
    return (
        f'WITH "gone" AS (DELETE FROM "study_record" WHERE "id" = $1 AND "owner_id" = $2 '  # noqa: S608
        f"RETURNING {_returning()}), "
        f'"cnt" AS ({count}), "tot" AS ({total}), '
        f'"day" AS ({days}) '
        f'SELECT "gone".*, "day"."records" AS "{_LEFT}" FROM "gone", "day"'
    )


@functools.cache
def _update_sql(fields: tuple[str, ...]) -> str:
    """$1 record id, $2 owner, $3 now, then the new values of `fields` in their order.

    The old row is read locked, the new one written; the day rows get the difference,
    summed per (day, subject) so an edit within one day touches its row once, in key order.
    """
    changes = ", ".join(f'"{name}" = ${n}' for n, name in enumerate(fields, start=4))
    days = _DAYS.format(
        select=(
            'SELECT $2, "studied_on", "subject", SUM("minutes"), SUM("records") FROM ('
            'SELECT "studied_on", "subject", -"minutes" AS "minutes", -1 AS "records" '
            'FROM "old" UNION ALL SELECT "studied_on", "subject", "minutes", 1 FROM "new"'
            ') AS "moved" GROUP BY "studied_on", "subject" '
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
        f'"day" AS ({days}) '
        f'SELECT "new".*, (SELECT MIN("records") FROM "day") AS "{_LEFT}", '
        f'"old"."studied_on" AS "{_OLD_DAY}", "old"."subject" AS "{_OLD_SUBJECT}" '
        f'FROM "new", "old"'
    )


def _record(row: Any) -> StudyRecord:
    return StudyRecord._init_from_db(**{name: row[name] for name in _COLUMNS})  # pylint: disable=protected-access  # Tortoise's own constructor for a fetched row


async def create(
    conn: BaseDBAsyncClient, owner_id: uuid.UUID, values: dict[str, Any]
) -> StudyRecord:
    """The new record, counted: one statement, committed on its own."""
    params = [owner_id, *(values[name] for name in _EDITABLE), timezone.now()]
    _, rows = await conn.execute_query(_create_sql(), [*params, tally.slot_of(owner_id)])
    if not rows:
        # The account was deleted meanwhile: what the foreign key answers on the others.
        raise IntegrityError("the record's owner no longer exists")
    return _record(rows[0])


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
    if rows[0][_LEFT] <= 0:
        await tally.drop_day_if_empty(conn, owner_id, gone.studied_on, gone.subject)
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
    if row[_LEFT] is not None and row[_LEFT] <= 0:
        # Only the day the record left can have emptied (the day it moved to gained one).
        await tally.drop_day_if_empty(conn, owner_id, row[_OLD_DAY], row[_OLD_SUBJECT])
    return _record(row)
