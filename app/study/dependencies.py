"""Study record dependencies: whose records the caller sees, loading one it owns, the filters."""

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, status
from fastapi.exceptions import RequestValidationError

from app.core.types import IsoDate
from app.study import service
from app.study.models import StudyRecord
from app.study.schemas import utc_today
from app.users.auth import CurrentUser

NOT_FOUND_DETAIL = "Item not found"
# The id column is a 32-bit INT on every database; larger ids cannot exist.
MAX_RECORD_ID = 2**31 - 1

RecordId = Annotated[int, Path(ge=1, le=MAX_RECORD_ID, description="Study record id")]


async def visible_owner_id(user: CurrentUser) -> uuid.UUID | None:
    """Whose records the caller sees: its own, or everyone's (None) for a superuser."""
    return None if user.is_superuser else user.id


VisibleOwnerId = Annotated[uuid.UUID | None, Depends(visible_owner_id)]


async def get_owned_record(item_id: RecordId, owner_id: VisibleOwnerId) -> StudyRecord:
    """The record when the caller may see it; someone else's answers 404 like a missing one."""
    try:
        return await service.get_or_404(record_id=item_id, owner_id=owner_id)
    except service.StudyRecordNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND_DETAIL) from None


OwnedRecord = Annotated[StudyRecord, Depends(get_owned_record)]


@dataclass(frozen=True, slots=True)
class DateRange:
    studied_from: date | None
    studied_to: date | None


async def date_range(
    studied_from: Annotated[IsoDate | None, Query(description="On or after this day")] = None,
    studied_to: Annotated[IsoDate | None, Query(description="On or before this day")] = None,
) -> DateRange:
    """Inclusive bounds; a range that ends before it starts is a client mistake (422)."""
    if studied_from and studied_to and studied_from > studied_to:
        # Shaped like every other 422 (the documented validation error).
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "studied_to"),
                    "msg": "studied_to is before studied_from",
                    "input": studied_to.isoformat(),
                }
            ]
        )
    return DateRange(studied_from=studied_from, studied_to=studied_to)


DateRangeDep = Annotated[DateRange, Depends(date_range)]


async def record_filters(
    dates: DateRangeDep,
    subject: Annotated[
        str | None, Query(max_length=100, description="Exactly this subject")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Title contains (case-insensitive for A-Z)"),
    ] = None,
) -> service.RecordFilters:
    """The list and export filters; an empty `subject` or `q` filters nothing."""
    # Stored subjects carry no surrounding whitespace, so neither does the filter.
    subject = subject.strip() if subject is not None else None
    return service.RecordFilters(
        subject=subject or None,
        studied_from=dates.studied_from,
        studied_to=dates.studied_to,
        q=q if q and q.strip() else None,
    )


RecordFiltersDep = Annotated[service.RecordFilters, Depends(record_filters)]


async def today() -> date:
    """The current day in UTC (a function of its own so tests can fix the date)."""
    return utc_today()


Today = Annotated[date, Depends(today)]
