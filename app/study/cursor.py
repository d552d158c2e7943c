"""Cursor (keyset) pages: a page starts at a position in the order rather than at an
offset, so the database seeks to it on the sort key's index and a deep page costs what
the first does. The cursor text that carries a position is app/study/dependencies.py's."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tortoise.expressions import Q

from app.http.pagination import keyset_page
from app.platform.dialect import beyond
from app.study import records
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
    """Records after (value, id) in the ascending order of (key, id), or before it."""
    return beyond(order_by.lstrip("-"), value, record_id, later=later)


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
    page = keyset_page(rows, size, backwards=backwards, from_cursor=position is not None)

    def at(row: dict[str, Any] | None, *, back: bool) -> Position | None:
        return position_of(row, order_by, backwards=back) if row is not None else None

    return CursorSlice(
        items=page.rows,
        next=at(page.after, back=False),
        previous=at(page.before, back=True),
        current_backwards=at(page.after, back=True),
    )
