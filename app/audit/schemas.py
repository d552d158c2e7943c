"""What superusers receive from the audit trail, and the filters they send."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi_pagination.cursor import CursorPage
from fastapi_pagination.customization import (
    CustomizedPage,
    UseExcludedFields,
    UseIncludeTotal,
    UseName,
)
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.audit.models import PATH_MAX_LENGTH, ROUTE_MAX_LENGTH
from app.http.types import IsoDatetime

# Every database stores times from year 1 to 9999 (UTC); a bound outside is refused, not
# left to the driver (asyncpg raised on 0001-01-01T00:00:00+05:00: a 500).
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def _as_utc(value: datetime | None) -> datetime | None:
    """The time in UTC (one without a zone is taken as UTC, like every time the service
    stores); ValueError for one no database can store."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("outside the times the service stores (years 1 to 9999, UTC)") from None
    if not EARLIEST <= utc <= LATEST:
        raise ValueError("outside the times the service stores (years 1 to 9999, UTC)")
    return utc


UtcDatetime = Annotated[IsoDatetime | None, AfterValidator(_as_utc)]


class AuditLogRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    request_id: str
    method: str
    path: str
    route: str | None
    query: str
    status_code: int
    duration_ms: float
    client_ip: str | None
    user_agent: str | None
    user_id: uuid.UUID | None
    response_bytes: int


class AuditLogFilters(BaseModel):
    """Filters of the list; each one given narrows it."""

    user_id: uuid.UUID | None = None
    method: Annotated[str | None, Field(max_length=16)] = None
    status_code: Annotated[int | None, Field(ge=100, le=599)] = None
    path_prefix: Annotated[str | None, Field(min_length=1, max_length=PATH_MAX_LENGTH)] = None
    route: Annotated[
        str | None,
        Field(min_length=1, max_length=ROUTE_MAX_LENGTH, description="the exact route template"),
    ] = None
    since: Annotated[UtcDatetime, Field(description="entries at or after this time")] = None
    until: Annotated[UtcDatetime, Field(description="entries before this time")] = None


class AuditLogPage(BaseModel):
    """A page of the list. `total` counts at most TOTAL_CAP matches: past it, it says
    TOTAL_CAP and `total_capped` is true (walk further with the cursor route)."""

    items: list[AuditLogRead]
    total: int
    page: int
    size: int
    pages: int
    total_capped: bool


# No `total`: a count grows with the matching entries, and a cursor page must not.
AuditLogCursorPage = CustomizedPage[
    CursorPage[AuditLogRead],
    UseName("AuditLogCursorPage"),
    UseIncludeTotal(False),
    UseExcludedFields("total"),
]
