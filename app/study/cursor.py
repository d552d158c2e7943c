"""Cursor (keyset) pages: a page starts at a position in the order rather than at an
offset, so the database seeks to it on the sort key's index and a deep page costs what
the first does. The cursor text that carries a position is app/study/dependencies.py's."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pypika_tortoise import Table
from pypika_tortoise.terms import Criterion, Tuple, ValueWrapper
from tortoise.expressions import Q

from app.study import records
from app.study.conditions import Where
from app.study.records import NO_FILTERS, ROW_FIELDS, RecordFilters
from app.study.schemas import DEFAULT_ORDER_BY, OrderBy


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
    """Records after (value, id) in the ascending order of (key, id), or before it.

    PostgreSQL and SQLite compare the pair as one row value, which is an index range of
    its own; MySQL does not range-scan row values, but it does the equivalent OR."""
    key = order_by.lstrip("-")

    def build(table: Table, dialect: str) -> Criterion:
        column, ident = table[key], table["id"]
        if dialect == "mysql":
            if later:
                return (column > ValueWrapper(value)) | (
                    (column == ValueWrapper(value)) & (ident > ValueWrapper(record_id))
                )
            return (column < ValueWrapper(value)) | (
                (column == ValueWrapper(value)) & (ident < ValueWrapper(record_id))
            )
        pair, bound = Tuple(column, ident), Tuple(ValueWrapper(value), ValueWrapper(record_id))
        return pair > bound if later else pair < bound

    return Where(build)


def position_of(row: dict[str, Any], order_by: OrderBy, *, backwards: bool) -> Position:
    return Position(order_by, backwards, row[order_by.lstrip("-")], row["id"])


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
    key = order_by.lstrip("-")
    selection = records.filtered(owner_id=owner_id, filters=filters)
    if position is not None:
        selection = selection.filter(
            _beyond(order_by, position.value, position.record_id, later=not read_descending)
        )
    sign = "-" if read_descending else ""
    rows = await selection.order_by(f"{sign}{key}", f"{sign}id").limit(size + 1).values(*ROW_FIELDS)
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    if not rows:
        return CursorSlice(items=[], next=None, previous=None, current_backwards=None)
    has_next = more if not backwards else True
    has_previous = more if backwards else position is not None
    return CursorSlice(
        items=rows,
        next=position_of(rows[-1], order_by, backwards=False) if has_next else None,
        previous=position_of(rows[0], order_by, backwards=True) if has_previous else None,
        current_backwards=position_of(rows[-1], order_by, backwards=True) if has_next else None,
    )
