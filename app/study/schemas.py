"""What clients send and receive for study records and their statistics."""

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

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


class StudyRecordUpdate(BaseModel):
    """PATCH: only the fields given change; none of them may be null."""

    model_config = ConfigDict(extra="ignore")

    subject: Subject | None = None
    title: Title | None = None
    minutes: Minutes | None = None
    studied_on: IsoDate | None = None
    notes: Notes | None = None

    @model_validator(mode="after")
    def _given_fields_are_not_null(self) -> Self:
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"may be left out but not null: {', '.join(nulls)}")
        return self


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
