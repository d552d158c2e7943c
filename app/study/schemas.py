"""What clients send and receive for study records and their statistics."""

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi_pagination.cursor import CursorPage
from fastapi_pagination.customization import (
    CustomizedPage,
    UseExcludedFields,
    UseIncludeTotal,
    UseName,
)
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.core.types import IsoDate

# Surrounding whitespace is stripped first, so "   " is an empty (invalid) subject or title.
Subject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Minutes = Annotated[int, Field(ge=1, le=1440)]
Notes = Annotated[str, Field(max_length=10_000)]


def utc_today() -> date:
    return datetime.now(UTC).date()


class StudyRecordCreate(BaseModel):
    """The input fields; also the body of PUT, which replaces all of them."""

    # Unknown keys (owner_id, id, created_at …) are ignored, never stored.
    model_config = ConfigDict(extra="ignore")

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


class StudyRecordUpdate(BaseModel):
    """PATCH: only the fields given change; none of them may be null (422)."""

    model_config = ConfigDict(extra="ignore")

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
