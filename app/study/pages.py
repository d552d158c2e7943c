"""The offset list's pages: one page of rows and the total it is a page of.

The unfiltered list is the hot path: it runs as one hand-written statement per dialect
that reads the page and the kept total together. Filtered pages go through the query
builder and count only when the page does not already show the whole result.
"""

import functools
import uuid
from typing import Any

import orjson

from app.platform import mysql_rows
from app.platform.dialect import placeholders, quote
from app.study import records
from app.study.models import StudyRecord
from app.study.records import NO_FILTERS, ROW_FIELDS, RecordFilters
from app.study.schemas import DEFAULT_ORDER_BY, ORDER_BY_KEYS, OrderBy

_TOTAL_COLUMN = "page_total__"
_ORDER_BYS = ORDER_BY_KEYS


async def page_of(
    *,
    owner_id: uuid.UUID | None,
    filters: RecordFilters = NO_FILTERS,
    order_by: OrderBy = DEFAULT_ORDER_BY,
    offset: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page as plain rows (no ORM objects to build), and how many rows the whole
    query has.

    The page reads `limit` entries off the index of the sort key; the total is a kept
    count when there are no filters (see `records.total`), so neither grows with the
    user's data.
    """
    if filters == NO_FILTERS:
        return await _unfiltered_page(
            owner_id=owner_id, order_by=order_by, offset=offset, limit=limit
        )
    selection = records.query(owner_id=owner_id, filters=filters, order_by=order_by)
    rows = await selection.offset(offset).limit(limit).values(*ROW_FIELDS)
    if offset == 0 and len(rows) < limit:
        return rows, len(rows)  # the whole result is on this page: nothing to count
    return rows, await records.total(owner_id=owner_id, filters=filters)


@functools.cache
def _unfiltered_page_sql(dialect: str, order_by: OrderBy, all_owners: bool) -> str:
    """The page and its kept total in one statement, written once per dialect, order and
    scope: building it with the query builder on every request cost more than running it.

    Parameters: (owner, limit, offset) on PostgreSQL, which names the owner twice by
    number; (owner, owner, limit, offset) on the others; (limit, offset) for all owners."""

    def q(name: str) -> str:
        return quote(name, dialect)

    def mark(number: int) -> str:
        return placeholders(dialect, 1, start=number)[0]

    if order_by not in _ORDER_BYS:  # only our own names ever reach the SQL text
        raise ValueError(f"unknown order: {order_by!r}")
    columns = ", ".join(q(name) for name in ROW_FIELDS)
    direction = "DESC" if order_by.startswith("-") else "ASC"
    key = order_by.lstrip("-")
    owner = f"{q('owner_id')} = {mark(1)}"
    if all_owners:
        # The kept total is spread over slots (see app/study/tally.py).
        kept, where, first = f"SUM({q('records')}) FROM {q('study_record_total')}", "", 1
    else:
        kept = f"{q('records')} FROM {q('study_record_count')} WHERE {owner}"
        where, first = f" WHERE {owner}", 2
    return (
        f"SELECT {columns}, (SELECT {kept}) AS {q(_TOTAL_COLUMN)} "  # noqa: S608  (our constants only)
        f"FROM {q('study_record')}{where} "
        f"ORDER BY {q(key)} {direction}, {q('id')} {direction} "
        f"LIMIT {mark(first)} OFFSET {mark(first + 1)}"
    )


JSON_ROW_COLUMN = "page_item__"
# The time columns as the read model prints them (UTC, microseconds).
_MYSQL_TIME = "DATE_FORMAT({column}, '%%Y-%%m-%%dT%%H:%%i:%%s.%%f+00:00')"


def mysql_json_object(*extra: str) -> str:
    """A record row as one JSON object, built by MySQL: aiomysql decodes a result field by
    field in Python (the page's 180 fields cost it more than the rest of the request); one
    JSON text per row is decoded in C, and pydantic converts its values as the response
    model is made. `extra`: more keys and values, as SQL (`'key', value`)."""
    return (
        "JSON_OBJECT("
        + ", ".join(
            [
                f"'{name}', "
                + (_MYSQL_TIME.format(column=f"`{name}`") if name.endswith("_at") else f"`{name}`")
                for name in ROW_FIELDS
            ]
            + list(extra)
        )
        + ")"
    )


@functools.cache
def _mysql_json_page_sql(order_by: OrderBy, all_owners: bool) -> str:
    """MySQL's page as one JSON object per row, the kept total inside each (one column: a
    second one cost aiomysql a field to read per row, its definition, and a conversion; the
    uncorrelated subquery runs once a statement). Not one JSON array of the page
    (JSON_ARRAYAGG over a derived table, even of the page's ids alone): with the LONGTEXT
    `notes` among its values, MariaDB made on-disk temporary tables for every page, and the
    page cost it twice to three times the rows' own reading. Parameters as
    `_unfiltered_page_sql`."""
    page = _unfiltered_page_sql("mysql", order_by, all_owners)
    kept, _, rest = page.partition(f" AS `{_TOTAL_COLUMN}` ")
    _, _, kept = kept.partition(", (SELECT ")
    total = f"'{_TOTAL_COLUMN}', (SELECT {kept}"
    return f"SELECT {mysql_json_object(total)} AS `{JSON_ROW_COLUMN}` {rest}"


async def mysql_json_rows(conn: Any, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """The rows of a statement that selects one MySQL JSON object per row, read as the
    server's bytes (app/platform/mysql_rows.py) and decoded in one step."""
    found = await mysql_rows.column_values(conn, sql, params)
    return orjson.loads(b"[" + b",".join(found) + b"]")  # type: ignore[arg-type]  # JSON_OBJECT is never NULL


async def _mysql_page(
    conn: Any, *, owner_id: uuid.UUID | None, order_by: OrderBy, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    params: list[Any] = [limit, offset]
    if owner_id is not None:
        params = [owner_id, owner_id, limit, offset]  # written as their text (mysql_rows.py)
    rows = await mysql_json_rows(conn, _mysql_json_page_sql(order_by, owner_id is None), params)
    if not rows:
        return [], (0 if offset == 0 else await records.total(owner_id=owner_id))
    kept = 0
    for row in rows:
        kept = row.pop(_TOTAL_COLUMN)
    if offset == 0 and len(rows) < limit:
        return rows, len(rows)
    return rows, int(kept or 0)


async def _unfiltered_page(
    *, owner_id: uuid.UUID | None, order_by: OrderBy, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """One round trip for a page of the unfiltered list and its total (the kept count,
    read in the same statement, so the two agree); a second only for a page past the end."""
    conn = StudyRecord._meta.db  # pylint: disable=protected-access  # Tortoise's public metadata
    dialect = conn.capabilities.dialect
    if dialect == "mysql":
        return await _mysql_page(
            conn, owner_id=owner_id, order_by=order_by, offset=offset, limit=limit
        )
    sql = _unfiltered_page_sql(dialect, order_by, owner_id is None)
    params: list[Any] = [limit, offset]
    if owner_id is not None:
        # asyncpg takes a UUID for the uuid column; the others store its text.
        owner = owner_id if dialect == "postgres" else str(owner_id)
        params = [owner, limit, offset] if dialect == "postgres" else [owner, owner, limit, offset]
    found = await conn.execute_query_dict(sql, params)
    if not found:
        return [], (0 if offset == 0 else await records.total(owner_id=owner_id))
    kept = found[0][_TOTAL_COLUMN]
    for row in found:
        del row[_TOTAL_COLUMN]
    rows = record_rows(found, dialect)
    if offset == 0 and len(rows) < limit:
        return rows, len(rows)
    return rows, int(kept or 0)


def record_rows(found: list[dict[str, Any]], dialect: str) -> list[dict[str, Any]]:
    """Rows of the record columns as `.values()` gives them: asyncpg's types are already the
    model's (the rows are kept as they came); the other drivers hand back text or naive
    times, which the fields convert."""
    if dialect == "postgres":
        return found
    fields_map = StudyRecord._meta.fields_map  # pylint: disable=protected-access  # as above
    return [
        {name: fields_map[name].to_python_value(row[name]) for name in ROW_FIELDS} for row in found
    ]
