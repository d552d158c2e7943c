"""Study-only fixtures: a second user, and quick ways to make records."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import pytest

from app.study.models import StudyRecord
from app.study.records import create_many
from tests.conftest import register_and_login, unique_email

URL = "/api/v1/study-records"
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
