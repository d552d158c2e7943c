"""The offset list's pages: one page of rows and the total it is a page of.

The unfiltered list is the hot path: it runs as one hand-written statement per dialect
that reads the page and the kept total together. Filtered pages go through the query
builder and count only when the page does not already show the whole result.
"""

import functools
import uuid
from typing import Any

import orjson

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


_ITEMS_COLUMN = "page_items__"
# The time columns as the read model prints them (UTC, microseconds).
_MYSQL_TIME = "DATE_FORMAT({column}, '%%Y-%%m-%%dT%%H:%%i:%%s.%%f+00:00')"


@functools.cache
def _mysql_json_page_sql(order_by: OrderBy, all_owners: bool) -> str:
    """MySQL's page as one JSON array in one row beside the kept total. aiomysql decodes a
    result row by row, field by field, in Python (the page's 200 fields cost it more than
    the rest of the request); one JSON text is decoded in C, and pydantic converts its
    values as the response model is made. Parameters as `_unfiltered_page_sql`."""
    page = _unfiltered_page_sql("mysql", order_by, all_owners)
    select, _, rest = page.partition(" FROM `study_record`")
    kept = select.split("(SELECT ", 1)[1].rsplit(") AS", 1)[0]
    fields = ", ".join(
        f"'{name}', "
        + (_MYSQL_TIME.format(column=f"`{name}`") if name.endswith("_at") else f"`{name}`")
        for name in ROW_FIELDS
    )
    columns = ", ".join(f"`{name}`" for name in ROW_FIELDS)
    return (
        f"SELECT (SELECT {kept}) AS `{_TOTAL_COLUMN}`, "  # noqa: S608  (our constants only)
        f"(SELECT JSON_ARRAYAGG(JSON_OBJECT({fields})) FROM ("
        f"SELECT {columns} FROM `study_record`{rest}) AS `page`) AS `{_ITEMS_COLUMN}`"
    )


async def _mysql_page(
    conn: Any, *, owner_id: uuid.UUID | None, order_by: OrderBy, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    params: list[Any] = [limit, offset]
    if owner_id is not None:
        params = [str(owner_id), str(owner_id), limit, offset]
    found = await conn.execute_query_dict(_mysql_json_page_sql(order_by, owner_id is None), params)
    items = found[0][_ITEMS_COLUMN]
    rows: list[dict[str, Any]] = orjson.loads(items) if items else []
    # An aggregate keeps no order on MySQL: the page is put back in its own (ISO times and
    # dates sort as text; ties by id).
    key = order_by.lstrip("-")
    rows.sort(key=lambda row: (row[key], row["id"]), reverse=order_by.startswith("-"))
    if not rows:
        return [], (0 if offset == 0 else await records.total(owner_id=owner_id))
    if offset == 0 and len(rows) < limit:
        return rows, len(rows)
    return rows, int(found[0][_TOTAL_COLUMN] or 0)


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
    rows = [record_row(row, dialect) for row in found]
    if offset == 0 and len(rows) < limit:
        return rows, len(rows)
    return rows, int(kept or 0)


def record_row(row: dict[str, Any], dialect: str) -> dict[str, Any]:
    """A row as `.values()` gives it: asyncpg's types are already the model's; the other
    drivers hand back text or naive times, which the fields convert."""
    if dialect == "postgres":
        return {name: row[name] for name in ROW_FIELDS}
    fields_map = StudyRecord._meta.fields_map  # pylint: disable=protected-access  # as above
    return {name: fields_map[name].to_python_value(row[name]) for name in ROW_FIELDS}
