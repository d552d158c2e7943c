"""Study-only fixtures: a second user, and quick ways to make records."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from app.study.models import StudyRecord
from app.study.records import create_many
from tests.conftest import register_and_login, unique_email

URL = "/api/v1/study-records"
Row = tuple[str, int, date]  # subject, minutes, studied_on
TODAY = date(2024, 3, 15)
"""The day the app believes it is in these tests (see `fixed_today`)."""


def payload(**overrides: Any) -> dict[str, Any]:
    """A valid create body."""
    body: dict[str, Any] = {
        "subject": "Mathematics",
        "title": "Linear algebra: eigenvalues",
        "minutes": 45,
        "studied_on": "2024-03-01",
        "notes": "Chapter 5",
    }
    body.update(overrides)
    return body


async def create_record(
    client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    response = await client.post(URL, json=payload(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def user_id(client: httpx.AsyncClient, headers: dict[str, str]) -> uuid.UUID:
    response = await client.get("/api/v1/users/me", headers=headers)
    assert response.status_code == 200, response.text
    return uuid.UUID(response.json()["id"])


async def insert_records(owner_id: uuid.UUID, rows: list[tuple[str, int, date]]) -> None:
    """(subject, minutes, studied_on) rows in one bulk insert (counts kept), for set-ups."""
    await create_many(
        [
            StudyRecord(owner_id=owner_id, subject=s, title=f"{s} {i}", minutes=m, studied_on=d)
            for i, (s, m, d) in enumerate(rows)
        ]
    )


async def row_snapshot() -> list[dict[str, Any]]:
    """Every study record as stored, to prove a rejected request changed nothing."""
    return await StudyRecord.all().order_by("id").values()


@pytest.fixture
async def other_user_headers(client: httpx.AsyncClient) -> dict[str, str]:
    return await register_and_login(client, unique_email("other"))


@pytest.fixture
def set_today(monkeypatch: pytest.MonkeyPatch) -> Callable[[date], None]:
    """Sets the day the app believes it is (stats streaks, export file name)."""

    def set_day(day: date) -> None:
        monkeypatch.setattr("app.study.dependencies.utc_today", lambda: day)

    set_day(TODAY)
    return set_day


def days_of(rows: list[Row]) -> set[date]:
    return {day for _, _, day in rows}


def expected_longest(days: set[date]) -> int:
    """Counts forward from each day that starts a run (a different method from the app's)."""
    best = 0
    for day in days:
        if day - timedelta(days=1) not in days:
            length = 1
            while day + timedelta(days=length) in days:
                length += 1
            best = max(best, length)
    return best


def expected_current(days: set[date], today: date) -> int:
    end = today if today in days else today - timedelta(days=1)
    length = 0
    while end - timedelta(days=length) in days:
        length += 1
    return length


def expected_stats(
    rows: list[Row], today: date, first: date | None = None, last: date | None = None
) -> dict[str, Any]:
    in_range = [
        r for r in rows if (first is None or r[2] >= first) and (last is None or r[2] <= last)
    ]
    minutes_by_subject: dict[str, int] = defaultdict(int)
    records_by_subject: dict[str, int] = defaultdict(int)
    minutes_by_day: dict[date, int] = defaultdict(int)
    for subject, minutes, day in in_range:
        minutes_by_subject[subject] += minutes
        records_by_subject[subject] += 1
        minutes_by_day[day] += minutes
    subjects = sorted(minutes_by_subject, key=lambda s: (-minutes_by_subject[s], s))
    return {
        "total_minutes": sum(m for _, m, _ in in_range),
        "record_count": len(in_range),
        "by_subject": [
            {"subject": s, "minutes": minutes_by_subject[s], "records": records_by_subject[s]}
            for s in subjects
        ],
        "by_day": [
            {"date": d.isoformat(), "minutes": minutes_by_day[d]} for d in sorted(minutes_by_day)
        ],
        "longest_streak_days": expected_longest(days_of(in_range)),
        "current_streak_days": expected_current(days_of(rows), today),
    }
