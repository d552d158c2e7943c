"""What clients send and receive for study records and their statistics."""

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, Self, get_args

from fastapi_pagination.cursor import CursorPage
from fastapi_pagination.customization import (
    CustomizedPage,
    UseExcludedFields,
    UseIncludeTotal,
    UseName,
)
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from app.http.text import text_problem
from app.http.types import IsoDate, RequestBody

# Surrounding whitespace is stripped first, so "   " is an empty (invalid) subject or title.
Subject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Minutes = Annotated[int, Field(ge=1, le=1440)]
Notes = Annotated[str, Field(max_length=10_000)]
# The list's sort keys (a leading '-' sorts descending; ties go by id), the export's too.
# `x-enum-varnames` gives generated clients member names (`STUDIED_ON_DESC`), where
# `-studied_on` alone would make `VALUE_1`.
OrderByKey = Literal[
    "studied_on", "-studied_on", "minutes", "-minutes", "created_at", "-created_at"
]
ORDER_BY_KEYS: frozenset[str] = frozenset(get_args(OrderByKey))
OrderBy = Annotated[
    OrderByKey,
    Field(
        json_schema_extra={
            "x-enum-varnames": [
                "STUDIED_ON",
                "STUDIED_ON_DESC",
                "MINUTES",
                "MINUTES_DESC",
                "CREATED_AT",
                "CREATED_AT_DESC",
            ]
        }
    ),
]
# The export file formats. On the wire the field is `format` (and a job's size `bytes`), as
# the public contract names them; the Python attributes are `file_format` and `size_bytes`,
# so no built-in is shadowed.
ExportFormat = Literal["csv", "jsonl"]
ExportStatus = Literal["queued", "running", "done", "failed"]
DEFAULT_ORDER_BY: OrderBy = "-studied_on"


def utc_today() -> date:
    return datetime.now(UTC).date()


class StudyRecordCreate(RequestBody):
    """The input fields; also the body of PUT, which replaces all of them. Any other key
    (`id`, `owner_id`, `created_at` …) is a 422: a record always belongs to its creator."""

    subject: Subject
    title: Title
    minutes: Minutes
    studied_on: IsoDate = Field(default_factory=utc_today)
    notes: Notes = ""


def _leave_out_or_give(schema: dict[str, Any]) -> None:
    # The Python default (None: "not given") is no value a client may send.
    schema.pop("default", None)


def _optional() -> Any:
    """A PATCH field: may be left out; when given it must be a value, never null."""
    return Field(default=None, json_schema_extra=_leave_out_or_give)


class StudyRecordUpdate(RequestBody):
    """PATCH: only the fields given change; none of them may be null (422)."""

    # The types say what a client may send (no null, so the schema advertises none); None
    # is only the "left out" default, which pydantic does not validate, and is never
    # dumped because the service takes the fields that were set.
    subject: Subject = _optional()
    title: Title = _optional()
    minutes: Minutes = _optional()
    studied_on: IsoDate = _optional()
    notes: Notes = _optional()


class StudyRecordRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner_id: uuid.UUID
    subject: str
    title: str
    minutes: int
    studied_on: date
    notes: str
    created_at: datetime
    updated_at: datetime


# No `total`: a filtered count grows with the matching records, and a cursor page must not.
StudyRecordCursorPage = CustomizedPage[
    CursorPage[StudyRecordRead],
    UseName("StudyRecordCursorPage"),
    UseIncludeTotal(False),
    UseExcludedFields("total"),
]


class SubjectStats(BaseModel):
    subject: str
    minutes: int
    records: int


class DayStats(BaseModel):
    date: date
    minutes: int


class StudyStats(BaseModel):
    total_minutes: int
    record_count: int
    by_subject: list[SubjectStats]
    by_day: list[DayStats]
    longest_streak_days: int
    current_streak_days: int


def _printable(value: str) -> str:
    """NUL and lone surrogates cannot be stored or compared by every database: 422. The
    rule of app/http/text.py, whose guard refuses such input before any route; this keeps
    the model safe wherever else it is built."""
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem[1])
    return value


SubjectFilter = Annotated[str, StringConstraints(max_length=100), AfterValidator(_printable)]
TitleFilter = Annotated[str, StringConstraints(max_length=200), AfterValidator(_printable)]


class ExportJobCreate(RequestBody):
    """An export job's format and the list filters it applies."""

    file_format: ExportFormat = Field(alias="format")
    subject: SubjectFilter | None = None
    studied_from: IsoDate | None = None
    studied_to: IsoDate | None = None
    q: TitleFilter | None = None
    order_by: OrderBy = DEFAULT_ORDER_BY

    @model_validator(mode="after")
    def _range_in_order(self) -> Self:
        if self.studied_from and self.studied_to and self.studied_from > self.studied_to:
            raise ValueError("studied_to is before studied_from")
        return self


class ExportJobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: ExportStatus
    # The model's columns and the wire names are `format` and `bytes`.
    file_format: ExportFormat = Field(alias="format")
    rows: int | None
    size_bytes: int | None = Field(alias="bytes")
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
