"""What superusers receive from the audit trail, and the filters they send."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.audit.models import PATH_MAX_LENGTH
from app.http.types import IsoDatetime


def _as_utc(value: datetime | None) -> datetime | None:
    """A time without a zone is taken as UTC, like every time the service stores."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


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
    since: Annotated[UtcDatetime, Field(description="entries at or after this time")] = None
    until: Annotated[UtcDatetime, Field(description="entries before this time")] = None
