"""Study record routes under /api/v1/study-records."""

from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from app.core.openapi import errors
from app.study import service
from app.study.crud import StudyRecordCRUDRouter
from app.study.dependencies import (
    CursorParamsDep,
    DateRangeDep,
    OrderByQuery,
    RecordFiltersDep,
    Today,
    VisibleOwnerId,
    decode_position,
    encode_position,
)
from app.study.schemas import StudyRecordCursorPage, StudyStats
from app.users.auth import CurrentUser

ExportFormat = Literal["csv", "jsonl"]
_MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
}

extra_router = APIRouter(prefix="/study-records", tags=["Study records"])


@extra_router.get("/stats", name="stats", responses=errors(401, 503))
async def get_stats(owner_id: VisibleOwnerId, dates: DateRangeDep, today: Today) -> StudyStats:
    """Totals, minutes per subject and per day, and study streaks."""
    return await service.stats(
        owner_id=owner_id,
        studied_from=dates.studied_from,
        studied_to=dates.studied_to,
        today=today,
    )


@extra_router.get("/cursor", name="cursor", responses=errors(401, 503))
async def list_study_records_by_cursor(
    owner_id: VisibleOwnerId,
    filters: RecordFiltersDep,
    params: CursorParamsDep,
    order_by: OrderByQuery = service.DEFAULT_ORDER_BY,
) -> StudyRecordCursorPage:
    """Your study records by cursor: every page costs the same however deep."""
    position = decode_position(params.cursor, order_by) if params.cursor else None
    page = await service.cursor_page(
        owner_id=owner_id, filters=filters, order_by=order_by, size=params.size, position=position
    )

    def cursor(at: service.Position | None) -> str | None:
        return encode_position(at) if at is not None else None

    return StudyRecordCursorPage.create(
        items=page.items,
        params=params,
        current=cursor(position),
        current_backwards=cursor(page.current_backwards),
        next_=cursor(page.next),
        previous=cursor(page.previous),
    )


@extra_router.get(
    "/export",
    name="export",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}, "application/x-ndjson": {}}},
        **errors(401, 503),
    },
)
async def export_records(
    user: CurrentUser,
    owner_id: VisibleOwnerId,
    filters: RecordFiltersDep,
    today: Today,
    export_format: Annotated[ExportFormat, Query(alias="format")] = "csv",
) -> StreamingResponse:
    """Download your records (with the list filters) as CSV or JSON lines."""
    lines: AsyncIterator[str]
    if export_format == "csv":
        lines = service.export_csv(owner_id=owner_id, filters=filters)
    else:
        lines = service.export_jsonl(owner_id=owner_id, filters=filters)
    scope = "all" if owner_id is None else str(user.id)
    filename = f"study-records-{scope}-{today.isoformat()}.{export_format}"
    return StreamingResponse(
        lines,
        media_type=_MEDIA_TYPES[export_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


router = APIRouter(prefix="/api/v1")
# /stats, /cursor and /export first: the generated GET /{item_id} would otherwise take them as ids.
router.include_router(extra_router)
router.include_router(StudyRecordCRUDRouter())
