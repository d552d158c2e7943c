"""Audit trail routes under /api/v1/audit-logs (superuser only)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.audit import service
from app.audit.cursor import Position, cursor_page
from app.audit.dependencies import CursorQueryDep, encode_position
from app.audit.schemas import AuditLogCursorPage, AuditLogFilters, AuditLogPage, AuditLogRead
from app.auth.dependencies import CurrentSuperuser
from app.http.openapi import errors
from app.http.pagination import PageParams
from app.http.routing import ApiRoute

# The id column is a signed 64-bit integer; anything larger can name no entry.
MAX_ID = 2**63 - 1

router = APIRouter(prefix="/api/v1", tags=["Audit log"], route_class=ApiRoute)


@router.get(
    "/audit-logs",
    name="list",
    summary="List audit log entries",
    responses=errors(401, 403, 503),
)
async def list_audit_logs(
    _superuser: CurrentSuperuser,
    filters: Annotated[AuditLogFilters, Query()],
    params: PageParams,
) -> AuditLogPage:
    """Recorded requests, newest first (superuser); `total` counts up to 10,000."""
    items, counted = await service.page(filters=filters, number=params.page, size=params.size)
    total = min(counted, service.TOTAL_CAP)
    return AuditLogPage(
        items=[AuditLogRead.model_validate(entry) for entry in items],
        total=total,
        page=params.page,
        size=params.size,
        pages=-(-total // params.size),
        total_capped=counted > service.TOTAL_CAP,
    )


@router.get(
    "/audit-logs/cursor",
    name="list_by_cursor",
    summary="List audit log entries by cursor",
    responses=errors(401, 403, 503),
)
async def list_audit_logs_by_cursor(
    _superuser: CurrentSuperuser, query: CursorQueryDep
) -> AuditLogCursorPage:
    """Recorded requests, newest first, by cursor: every page costs the same (superuser)."""
    page = await cursor_page(filters=query.filters, size=query.params.size, position=query.position)

    def cursor(at: Position | None) -> str | None:
        return encode_position(at) if at is not None else None

    return AuditLogCursorPage.create(
        items=[AuditLogRead.model_validate(entry) for entry in page.items],
        params=query.params,
        current=cursor(query.position),
        current_backwards=cursor(page.current_backwards),
        next_=cursor(page.next),
        previous=cursor(page.previous),
    )


@router.get(
    "/audit-logs/{audit_log_id}",
    name="get",
    summary="Get an audit log entry",
    responses=errors(401, 403, 404, 503, descriptions={404: "No such entry."}),
)
async def get_audit_log(
    _superuser: CurrentSuperuser, audit_log_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> AuditLogRead:
    """One recorded request (superuser)."""
    return AuditLogRead.model_validate(await service.get(audit_log_id=audit_log_id))
