"""Dependencies of the audit routes: the cursor list's query string and its cursor text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query

from app.audit.cursor import Position
from app.audit.schemas import EARLIEST, LATEST, AuditLogFilters
from app.http.pagination import (
    DEFAULT_PAGE_SIZE,
    CursorValue,
    PageSize,
    PlainCursorParams,
    read_cursor,
)

MAX_ENTRY_ID = 2**63 - 1


def encode_position(position: Position) -> str:
    """The cursor's content (CursorPage base64-encodes it)."""
    direction = "b" if position.backwards else "f"
    return json.dumps([direction, position.created_at.isoformat(), position.entry_id])


def _position(content: Any) -> Position:
    direction, moment, entry_id = content
    if direction not in ("f", "b") or not isinstance(moment, str):
        raise ValueError("bad direction or time")
    if isinstance(entry_id, bool) or not isinstance(entry_id, int):
        raise ValueError("bad id")
    if not 1 <= entry_id <= MAX_ENTRY_ID:
        raise ValueError("bad id")
    created_at = datetime.fromisoformat(moment)
    if created_at.tzinfo is None or not EARLIEST <= created_at <= LATEST:
        raise ValueError("bad time")
    return Position(direction == "b", created_at, entry_id)


def decode_position(raw: str) -> Position:
    """The position a cursor of ours holds; anything else is a 422 (never reaches SQL)."""
    return read_cursor(raw, _position)


@dataclass(frozen=True, slots=True)
class CursorQuery:
    filters: AuditLogFilters
    params: PlainCursorParams
    position: Position | None


async def cursor_query(
    filters: Annotated[AuditLogFilters, Query()],
    cursor: CursorValue = None,
    size: PageSize = DEFAULT_PAGE_SIZE,
) -> CursorQuery:
    return CursorQuery(
        filters=filters,
        params=PlainCursorParams(cursor=cursor or None, size=size),
        position=decode_position(cursor) if cursor else None,
    )


CursorQueryDep = Annotated[CursorQuery, Depends(cursor_query)]
