"""Study record dependencies: whose records the caller sees, loading one it owns, the filters."""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi_pagination import Params

from app.auth.dependencies import (
    Authentication,
    CurrentAuthentication,
    CurrentUser,
    authenticate_counting,
    bearer_scheme,
)
from app.http.pagination import (
    DEFAULT_PAGE_SIZE,
    CursorValue,
    PageNumber,
    PageSize,
    PlainCursorParams,
    bad_cursor,
    read_cursor,
)
from app.http.query import query_model
from app.http.state import SettingsDep, app_state
from app.http.types import IsoDate
from app.platform import ratelimit
from app.study import exports, records, stats
from app.study.cursor import Position
from app.study.models import ExportJob, StudyRecord
from app.study.records import RecordFilters
from app.study.schemas import DEFAULT_ORDER_BY, ORDER_BY_KEYS, OrderBy, utc_today

# The id column is a 32-bit INT on every database; larger ids cannot exist.
MAX_RECORD_ID = 2**31 - 1

# A cursor is a few dozen characters; anything much longer was not made by us.
_INT_RANGE = (-(2**31), 2**31 - 1)  # the minutes column is a 32-bit INT everywhere
_ORDER_KEYS = ORDER_BY_KEYS

RecordId = Annotated[int, Path(ge=1, le=MAX_RECORD_ID, description="Study record id")]


def owner_scope(authentication: Authentication) -> uuid.UUID | None:
    """Whose records the caller sees: its own, or everyone's (None) for a superuser."""
    user = authentication.user
    return None if user.is_superuser else user.id


async def visible_owner_id(authentication: CurrentAuthentication) -> uuid.UUID | None:
    return owner_scope(authentication)


VisibleOwnerId = Annotated[uuid.UUID | None, Depends(visible_owner_id)]


async def get_owned_record(item_id: RecordId, owner_id: VisibleOwnerId) -> StudyRecord:
    """The record when the caller may see it; someone else's answers 404 like a missing one."""
    return await records.get(record_id=item_id, owner_id=owner_id)


OwnedRecord = Annotated[StudyRecord, Depends(get_owned_record)]


async def count_write(
    request: Request, token: Annotated[str | None, Depends(bearer_scheme)]
) -> Authentication:
    """The caller, admitted as `authenticate` admits it, and one write of theirs (a record
    created, changed or deleted, an export asked for) counted against
    RATE_LIMIT_WRITE_PER_USER: 429 past it, before anything is read. Usually one round trip
    to the store for both (`authenticate_counting`), where they took two."""
    settings = app_state(request).settings
    limit = ratelimit.Limit(settings.RATE_LIMIT_WRITE_PER_USER, settings.RATE_LIMIT_WINDOW_SECONDS)
    return await authenticate_counting(request, token, bucket="write:user", limit=limit)


WritingAuthentication = Annotated[Authentication, Depends(count_write)]


async def get_writable_record(
    item_id: RecordId, authentication: WritingAuthentication
) -> StudyRecord:
    """The record to change or delete, once the write is counted (else like OwnedRecord)."""
    return await records.get(record_id=item_id, owner_id=owner_scope(authentication))


WritableRecord = Annotated[StudyRecord, Depends(get_writable_record)]


@dataclass(frozen=True, slots=True)
class DateRange:
    studied_from: date | None
    studied_to: date | None


StudiedFrom = Annotated[IsoDate | None, Query(description="On or after this day")]
StudiedTo = Annotated[IsoDate | None, Query(description="On or before this day")]


async def date_range(studied_from: StudiedFrom = None, studied_to: StudiedTo = None) -> DateRange:
    """Inclusive bounds; a range that ends before it starts is a client mistake (422)."""
    _check_range(studied_from, studied_to)
    return DateRange(studied_from=studied_from, studied_to=studied_to)


def _check_range(studied_from: date | None, studied_to: date | None) -> None:
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


DateRangeDep = Annotated[DateRange, Depends(date_range)]


async def stats_range(dates: DateRangeDep, settings: SettingsDep) -> stats.Window:
    """The days the stats cover: the range asked for, completed and capped by
    STATS_MAX_DAYS (app/study/stats.py `window`); longer is a client mistake (422)."""
    try:
        return stats.window(
            studied_from=dates.studied_from,
            studied_to=dates.studied_to,
            today=utc_today(),
            max_days=settings.STATS_MAX_DAYS,
        )
    except stats.RangeTooLong as exc:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "studied_from"),
                    "msg": f"{exc}: ask for a shorter range",
                    "input": None if dates.studied_from is None else dates.studied_from.isoformat(),
                }
            ]
        ) from None


StatsRangeDep = Annotated[stats.Window, Depends(stats_range)]


SubjectFilter = Annotated[str | None, Query(max_length=100, description="Exactly this subject")]
TitleFilter = Annotated[
    str | None, Query(max_length=200, description="Title contains (case-insensitive for A-Z)")
]


async def record_filters(
    studied_from: StudiedFrom = None,
    studied_to: StudiedTo = None,
    subject: SubjectFilter = None,
    q: TitleFilter = None,
) -> RecordFilters:
    """The record filters (the export's dependency; the two lists call it from their own
    query dependency); an empty `subject` or `q` filters nothing."""
    _check_range(studied_from, studied_to)
    return make_filters(subject=subject, studied_from=studied_from, studied_to=studied_to, q=q)


def make_filters(
    *, subject: str | None, studied_from: date | None, studied_to: date | None, q: str | None
) -> RecordFilters:
    """The filters as given in a query string or an export job's body, normalised."""
    # Stored subjects carry no surrounding whitespace, so neither does the filter.
    subject = subject.strip() if subject is not None else None
    return RecordFilters(
        subject=subject or None,
        studied_from=studied_from,
        studied_to=studied_to,
        q=q if q and q.strip() else None,
    )


RecordFiltersDep = Annotated[RecordFilters, Depends(record_filters)]


async def today() -> date:
    """The current day in UTC (a function of its own so tests can fix the date)."""
    return utc_today()


Today = Annotated[date, Depends(today)]


OrderByQuery = Annotated[
    OrderBy,
    Query(description="Sort key; a leading '-' sorts descending. Ties are broken by id."),
]


def encode_position(position: Position) -> str:
    """The cursor's content (CursorPage base64-encodes it)."""
    value = position.value
    if isinstance(value, datetime):
        value = value.astimezone(UTC).isoformat()
    elif isinstance(value, date):
        value = value.isoformat()
    return json.dumps(
        [position.order_by, "b" if position.backwards else "f", value, position.record_id],
        separators=(",", ":"),
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is no number


def _sort_value(order_by: str, value: Any) -> date | int | datetime:
    key = order_by.lstrip("-")
    if key == "minutes":
        if not _is_int(value) or not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            raise ValueError("bad minutes")
        return value
    if not isinstance(value, str):
        raise ValueError("not text")
    if key == "studied_on":
        return date.fromisoformat(value)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment.astimezone(UTC)


def _position(content: Any) -> Position:
    key, direction, value, record_id = content
    if key not in _ORDER_KEYS or direction not in ("f", "b"):
        raise ValueError("bad order or direction")
    if not _is_int(record_id) or not 1 <= record_id <= MAX_RECORD_ID:
        raise ValueError("bad id")
    return Position(key, direction == "b", _sort_value(key, value), record_id)


def decode_position(raw: str, order_by: OrderBy) -> Position:
    """The position a cursor of ours holds; anything else is a 422 (never reaches SQL)."""
    position = read_cursor(raw, _position)
    if position.order_by != order_by:
        raise bad_cursor(f"this cursor belongs to order_by={position.order_by}", raw)
    return position


# The two record lists take every query parameter in one dependency each, read in one step
# (app/http/query.py). FastAPI solves a dependency per request by walking its whole tree
# (four parameter lookups per node, cached nodes included), and each declared parameter on
# its own: on the busiest route, that cost more than the query they build.


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The offset list's query string: filters, page and order."""

    filters: RecordFilters
    params: Params
    order_by: OrderBy


async def list_query(
    *,
    studied_from: StudiedFrom = None,
    studied_to: StudiedTo = None,
    subject: SubjectFilter = None,
    q: TitleFilter = None,
    page: PageNumber = 1,
    size: PageSize = DEFAULT_PAGE_SIZE,
    order_by: OrderByQuery = DEFAULT_ORDER_BY,
) -> ListQuery:
    return ListQuery(
        filters=await record_filters(studied_from, studied_to, subject, q),
        params=Params(page=page, size=size),
        order_by=order_by,
    )


ListQueryDep = Annotated[ListQuery, Depends(query_model(list_query))]


@dataclass(frozen=True, slots=True)
class CursorQuery:
    """The cursor list's query string: filters, cursor (decoded) and order."""

    filters: RecordFilters
    params: PlainCursorParams
    order_by: OrderBy
    position: Position | None


async def cursor_query(
    *,
    studied_from: StudiedFrom = None,
    studied_to: StudiedTo = None,
    subject: SubjectFilter = None,
    q: TitleFilter = None,
    cursor: CursorValue = None,
    size: PageSize = DEFAULT_PAGE_SIZE,
    order_by: OrderByQuery = DEFAULT_ORDER_BY,
) -> CursorQuery:
    return CursorQuery(
        filters=await record_filters(studied_from, studied_to, subject, q),
        params=PlainCursorParams(cursor=cursor or None, size=size),
        order_by=order_by,
        position=decode_position(cursor, order_by) if cursor else None,
    )


CursorQueryDep = Annotated[CursorQuery, Depends(query_model(cursor_query))]


async def get_owned_export_job(
    job_id: Annotated[uuid.UUID, Path(description="Export job id")], user: CurrentUser
) -> ExportJob:
    """The caller's own job; anyone else's answers 404 like a missing one."""
    return await exports.get(job_id=job_id, owner_id=user.id)


OwnedExportJob = Annotated[ExportJob, Depends(get_owned_export_job)]
