"""The export formats: the matching records as text, a chunk at a time. The streamed
download, the export jobs' files and the CLI all use these, so they hold the same bytes."""

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from app.platform import csvsafe
from app.study.cursor import Position, cursor_page
from app.study.records import NO_FILTERS, ROW_FIELDS, RecordFilters
from app.study.schemas import DEFAULT_ORDER_BY, OrderBy, StudyRecordRead

EXPORT_CHUNK_SIZE = 500

Rows = list[dict[str, Any]]


class Exporter(Protocol):
    def __call__(
        self,
        *,
        owner_id: uuid.UUID | None,
        filters: RecordFilters = NO_FILTERS,
        order_by: OrderBy = DEFAULT_ORDER_BY,
        on_chunk: Callable[[int], None] | None = None,
    ) -> AsyncIterator[str]: ...


async def iter_chunks(
    *,
    owner_id: uuid.UUID | None,
    filters: RecordFilters = NO_FILTERS,
    order_by: OrderBy = DEFAULT_ORDER_BY,
    chunk_size: int = EXPORT_CHUNK_SIZE,
) -> AsyncIterator[Rows]:
    """The matching records as rows, in the list's order, `chunk_size` at a time: a walk of
    cursor pages (keyset), so memory stays flat and the last chunk costs what the first does."""
    position: Position | None = None
    while True:
        page = await cursor_page(
            owner_id=owner_id,
            filters=filters,
            order_by=order_by,
            size=chunk_size,
            position=position,
        )
        if page.items:
            yield page.items
        if page.next is None:
            return
        position = page.next


def _exporter(render: Callable[[Rows], str], *, header: Callable[[], str] | None) -> Exporter:
    """An export in one format: `header` once, then each chunk as `render` writes it, in
    the list's order (`on_chunk` gets each chunk's record count)."""

    async def export(
        *,
        owner_id: uuid.UUID | None,
        filters: RecordFilters = NO_FILTERS,
        order_by: OrderBy = DEFAULT_ORDER_BY,
        on_chunk: Callable[[int], None] | None = None,
    ) -> AsyncIterator[str]:
        if header is not None:
            yield header()
        async for chunk in iter_chunks(owner_id=owner_id, filters=filters, order_by=order_by):
            if on_chunk is not None:
                on_chunk(len(chunk))
            yield render(chunk)

    return export


def _csv_header() -> str:
    return csvsafe.line(ROW_FIELDS)


def _csv_rows(chunk: Rows) -> str:
    rows = (StudyRecordRead.model_validate(r).model_dump(mode="json") for r in chunk)
    return csvsafe.lines([row[name] for name in ROW_FIELDS] for row in rows)


def _json_lines(chunk: Rows) -> str:
    return "".join(
        StudyRecordRead.model_validate(record).model_dump_json() + "\n" for record in chunk
    )


export_csv = _exporter(_csv_rows, header=_csv_header)
"""CSV text, a header line then one chunk of rows at a time."""

export_jsonl = _exporter(_json_lines, header=None)
"""One JSON record per line, one chunk of lines at a time."""

EXPORTERS: dict[str, Exporter] = {"csv": export_csv, "jsonl": export_jsonl}
"""The export generators by format."""
