"""Cursor (keyset) pages: a page starts at a position in the order rather than at an
offset, so the database seeks to it on the sort key's index and a deep page costs what
the first does. The cursor text that carries a position is app/study/dependencies.py's."""

import functools
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tortoise.expressions import Q

from app.http.pagination import keyset_page
from app.platform.dialect import beyond, placeholders, quote
from app.study import records
from app.study.models import StudyRecord
from app.study.pages import JSON_ROW_COLUMN, mysql_json_object, mysql_json_rows, record_rows
from app.study.records import NO_FILTERS, ROW_FIELDS, RecordFilters
from app.study.schemas import DEFAULT_ORDER_BY, ORDER_BY_KEYS, OrderBy

_SORT_KEYS = {name.lstrip("-") for name in ORDER_BY_KEYS}


@dataclass(frozen=True, slots=True)
class Position:
    """A place between two records in one order: after (or, going backwards, before) the
    record whose sort key is `value` and whose id is `record_id`."""

    order_by: OrderBy
    backwards: bool
    value: date | int | datetime
    record_id: int


@dataclass(frozen=True, slots=True)
class CursorSlice:
    items: list[dict[str, Any]]
    next: Position | None
    previous: Position | None
    current_backwards: Position | None


def _beyond(order_by: OrderBy, value: Any, record_id: int, *, later: bool) -> Q:
    """Records after (value, id) in the ascending order of (key, id), or before it."""
    return beyond(order_by.lstrip("-"), value, record_id, later=later)


def position_of(row: dict[str, Any], order_by: OrderBy, *, backwards: bool) -> Position:
    key = order_by.lstrip("-")
    value = row[key]
    if isinstance(value, str):  # MySQL's JSON rows carry days and times as ISO text
        value = date.fromisoformat(value) if key == "studied_on" else datetime.fromisoformat(value)
    return Position(order_by, backwards, value, row["id"])


async def cursor_page(
    *,
    owner_id: uuid.UUID | None,
    filters: RecordFilters = NO_FILTERS,
    order_by: OrderBy = DEFAULT_ORDER_BY,
    size: int,
    position: Position | None,
) -> CursorSlice:
    """`size` records from `position` (the start for None). Ties in the sort key are
    broken by id, so a walk returns every record exactly once."""
    descending = order_by.startswith("-")
    backwards = position is not None and position.backwards
    # Reading backwards is reading the reversed order forwards, then turning the page round.
    read_descending = descending != backwards
    if filters == NO_FILTERS:
        rows = await _unfiltered_rows(
            owner_id=owner_id,
            key=order_by.lstrip("-"),
            descending=read_descending,
            position=position,
            limit=size + 1,
        )
    else:
        key = order_by.lstrip("-")
        selection = records.filtered(owner_id=owner_id, filters=filters)
        if position is not None:
            selection = selection.filter(
                _beyond(order_by, position.value, position.record_id, later=not read_descending)
            )
        sign = "-" if read_descending else ""
        selection = selection.order_by(f"{sign}{key}", f"{sign}id").limit(size + 1)
        rows = await selection.values(*ROW_FIELDS)
    page = keyset_page(rows, size, backwards=backwards, from_cursor=position is not None)

    def at(row: dict[str, Any] | None, *, back: bool) -> Position | None:
        return position_of(row, order_by, backwards=back) if row is not None else None

    return CursorSlice(
        items=page.rows,
        next=at(page.after, back=False),
        previous=at(page.before, back=True),
        current_backwards=at(page.after, back=True),
    )


@functools.cache
def _unfiltered_sql(
    dialect: str, key: str, descending: bool, all_owners: bool, from_position: bool
) -> str:
    """The unfiltered cursor page in one statement per dialect, key, direction and scope,
    written once (the query builder cost more than the query). Parameters in order: the
    owner (unless all owners), the position's key value and id (PostgreSQL and SQLite
    compare them as one row value; MySQL, which cannot seek on a row value, spells out
    the OR and takes the key value twice), then the limit."""

    def q(name: str) -> str:
        return quote(name, dialect)

    if key not in _SORT_KEYS:  # only our own names ever reach the SQL text
        raise ValueError(f"unknown sort key: {key!r}")
    marks = iter(placeholders(dialect, 5))
    conditions = [] if all_owners else [f"{q('owner_id')} = {next(marks)}"]
    if from_position:
        op = "<" if descending else ">"
        if dialect == "mysql":
            value, same, record_id = next(marks), next(marks), next(marks)
            conditions.append(
                f"({q(key)} {op} {value} OR ({q(key)} = {same} AND {q('id')} {op} {record_id}))"
            )
        else:
            conditions.append(f"({q(key)}, {q('id')}) {op} ({next(marks)}, {next(marks)})")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    direction = "DESC" if descending else "ASC"
    columns = ", ".join(q(name) for name in ROW_FIELDS)
    if dialect == "mysql":  # a JSON object per row: decoded in C, not field by field
        columns = f"{mysql_json_object()} AS {q(JSON_ROW_COLUMN)}"
    return (
        f"SELECT {columns} FROM {q('study_record')}{where} "  # noqa: S608  (our constants only)
        f"ORDER BY {q(key)} {direction}, {q('id')} {direction} LIMIT {next(marks)}"
    )


async def _unfiltered_rows(
    *,
    owner_id: uuid.UUID | None,
    key: str,
    descending: bool,
    position: Position | None,
    limit: int,
) -> list[dict[str, Any]]:
    conn = StudyRecord._meta.db  # pylint: disable=protected-access  # Tortoise's public metadata
    dialect = conn.capabilities.dialect
    params: list[Any] = []
    if owner_id is not None:
        # asyncpg takes a UUID for the uuid column; the others store its text, which MySQL's
        # page reader writes itself (app/platform/mysql_rows.py).
        params.append(owner_id if dialect in ("postgres", "mysql") else str(owner_id))
    if position is not None:
        value: Any = position.value
        if dialect != "postgres":  # as the query builder would hand the value to the driver
            field = StudyRecord._meta.fields_map[key]  # pylint: disable=protected-access  # as above
            value = field.to_db_value(value, StudyRecord)
        same = [value] if dialect == "mysql" else []
        params += [value, *same, position.record_id]
    params.append(limit)
    sql = _unfiltered_sql(dialect, key, descending, owner_id is None, position is not None)
    if dialect == "mysql":
        return await mysql_json_rows(conn, sql, params)
    return record_rows(await conn.execute_query_dict(sql, params), dialect)
