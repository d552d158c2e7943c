"""Audit trail routes under /api/v1/audit-logs (superuser only)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi_pagination import Page
from fastapi_pagination.ext.tortoise import apaginate

from app.audit import service
from app.audit.schemas import AuditLogFilters, AuditLogRead
from app.auth.dependencies import CurrentSuperuser
from app.http.openapi import errors
from app.http.pagination import PageParams

# The id column is a signed 64-bit integer; anything larger can name no entry.
MAX_ID = 2**63 - 1

router = APIRouter(prefix="/api/v1")


@router.get(
    "/audit-logs",
    response_model=Page[AuditLogRead],
    tags=["audit_logs"],
    name="list",
    responses=errors(401, 403, 503),
)
async def list_audit_logs(
    _superuser: CurrentSuperuser,
    filters: Annotated[AuditLogFilters, Query()],
    params: PageParams,
) -> Page[AuditLogRead]:
    """Recorded requests, newest first (superuser)."""
    return await apaginate(
        service.query(filters=filters),
        params,
        transformer=lambda items: [AuditLogRead.model_validate(e) for e in items],
    )


@router.get(
    "/audit-logs/{audit_log_id}",
    tags=["audit_logs"],
    name="get",
    responses=errors(401, 403, 404, 503, descriptions={404: "No such entry."}),
)
async def get_audit_log(
    _superuser: CurrentSuperuser, audit_log_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> AuditLogRead:
    """One recorded request (superuser)."""
    return AuditLogRead.model_validate(await service.get(audit_log_id=audit_log_id))
