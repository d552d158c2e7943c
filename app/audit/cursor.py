"""Keyset pages of the audit trail, newest first: a page starts after an entry's
(created_at, id) rather than at an offset, so the database seeks on the (created_at, id)
index and a deep page costs what the first does, however long the trail. Ties in time are
broken by id, so a walk returns every entry exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.audit import service
from app.audit.models import AuditLog
from app.audit.schemas import AuditLogFilters
from app.http.pagination import keyset_page
from app.platform.dialect import beyond


@dataclass(frozen=True, slots=True)
class Position:
    """A place between two entries in the newest-first order: after (going backwards,
    before) the entry made at `created_at` with id `entry_id`."""

    backwards: bool
    created_at: datetime
    entry_id: int


@dataclass(frozen=True, slots=True)
class CursorSlice:
    items: list[AuditLog]
    next: Position | None
    previous: Position | None
    current_backwards: Position | None


async def cursor_page(
    *, filters: AuditLogFilters, size: int, position: Position | None
) -> CursorSlice:
    """`size` entries from `position` (the newest for None)."""
    backwards = position is not None and position.backwards
    selection = service.matching(filters)
    if position is not None:
        # Forwards is older; backwards reads the newer ones oldest first, then turns round.
        selection = selection.filter(
            beyond("created_at", position.created_at, position.entry_id, later=backwards)
        )
    order = ("created_at", "id") if backwards else ("-created_at", "-id")
    rows = list(await selection.order_by(*order).limit(size + 1))
    page = keyset_page(rows, size, backwards=backwards, from_cursor=position is not None)
    after, before = page.after, page.before
    return CursorSlice(
        items=page.rows,
        next=None if after is None else Position(False, after.created_at, after.id),
        previous=None if before is None else Position(True, before.created_at, before.id),
        current_backwards=None if after is None else Position(True, after.created_at, after.id),
    )
