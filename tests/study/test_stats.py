"""GET /study-records/stats, checked against values computed here in plain Python."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.study.conftest import URL, insert_records, user_id

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects

STATS = f"{URL}/stats"
Row = tuple[str, int, date]

# Streaks across month ends (Jan 30 - Feb 2; Feb 28 - Mar 1 of a leap year), subjects
# that differ only in case, a minutes tie between subjects, and several records a day.
ROWS: list[Row] = [
    ("Math", 30, date(2024, 1, 30)),
    ("Physics", 20, date(2024, 1, 30)),
    ("Math", 45, date(2024, 1, 31)),
    ("math", 15, date(2024, 2, 1)),
    ("Chemistry", 60, date(2024, 2, 2)),
    ("Physics", 25, date(2024, 2, 5)),
    ("Math", 10, date(2024, 2, 6)),
    ("Chemistry", 35, date(2024, 2, 28)),
    ("Biology", 40, date(2024, 2, 29)),
    ("Biology", 55, date(2024, 3, 1)),
]


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


async def get_stats(
    client: httpx.AsyncClient, headers: dict[str, str], **params: str
) -> dict[str, Any]:
    response = await client.get(STATS, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_stats_match_values_computed_in_python(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    set_today: Callable[[date], None],
) -> None:
    today = date(2024, 3, 1)
    set_today(today)
    await insert_records(await user_id(client, user_headers), ROWS)
    body = await get_stats(client, user_headers)
    assert body == expected_stats(ROWS, today)
    # Spelled out once, so the Python above is not the only witness.
    assert body["longest_streak_days"] == 4  # Jan 30 - Feb 2
    assert body["current_streak_days"] == 3  # Feb 28, Feb 29, Mar 1
    assert [(s["subject"], s["minutes"]) for s in body["by_subject"]] == [
        ("Biology", 95),  # ties with Chemistry: by subject
        ("Chemistry", 95),
        ("Math", 85),
        ("Physics", 45),
        ("math", 15),
    ]


async def test_stats_within_a_range(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    set_today: Callable[[date], None],
) -> None:
    today = date(2024, 3, 1)
    set_today(today)
    await insert_records(await user_id(client, user_headers), ROWS)
    for first, last in (
        (date(2024, 1, 31), date(2024, 2, 5)),
        (date(2024, 2, 1), date(2024, 2, 1)),
        (date(2024, 2, 29), None),
        (None, date(2024, 1, 30)),
        (date(2023, 1, 1), date(2023, 12, 31)),
    ):
        params = {}
        if first:
            params["studied_from"] = first.isoformat()
        if last:
            params["studied_to"] = last.isoformat()
        body = await get_stats(client, user_headers, **params)
        assert body == expected_stats(ROWS, today, first, last), params
        # The current streak ignores the range.
        assert body["current_streak_days"] == 3


async def test_current_streak_ends_today_or_yesterday(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    set_today: Callable[[date], None],
) -> None:
    owner = await user_id(client, user_headers)
    await insert_records(
        owner,
        [
            ("Go", 10, date(2024, 2, 27)),
            ("Go", 10, date(2024, 2, 28)),
            ("Go", 10, date(2024, 2, 29)),
            ("Go", 10, date(2024, 3, 5)),  # in the future for most of the days below
        ],
    )
    days = {date(2024, 2, 27), date(2024, 2, 28), date(2024, 2, 29)}
    for today, expected in (
        (date(2024, 2, 29), 3),  # a record today
        (date(2024, 3, 1), 3),  # none today yet: the streak ending yesterday counts
        (date(2024, 3, 2), 0),  # nothing today or yesterday
        (date(2024, 2, 28), 2),  # later records do not count
    ):
        set_today(today)
        body = await get_stats(client, user_headers)
        assert body["current_streak_days"] == expected, today
        assert expected_current(days, today) == expected


@pytest.mark.usefixtures("set_today")
async def test_stats_of_no_records_are_zero(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    assert await get_stats(client, user_headers) == {
        "total_minutes": 0,
        "record_count": 0,
        "by_subject": [],
        "by_day": [],
        "longest_streak_days": 0,
        "current_streak_days": 0,
    }


async def test_stats_count_only_the_callers_records(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_user_headers: dict[str, str],
    superuser_headers: dict[str, str],
    set_today: Callable[[date], None],
) -> None:
    today = date(2024, 3, 1)
    set_today(today)
    theirs: list[Row] = [("Art", 500, date(2024, 2, 3)), ("Art", 5, date(2024, 3, 1))]
    await insert_records(await user_id(client, user_headers), ROWS)
    await insert_records(await user_id(client, other_user_headers), theirs)
    assert await get_stats(client, user_headers) == expected_stats(ROWS, today)
    assert await get_stats(client, other_user_headers) == expected_stats(theirs, today)
    # A superuser sees all: Feb 3 from the other user joins Jan 30 - Feb 2 into one run.
    everything = await get_stats(client, superuser_headers)
    assert everything == expected_stats(ROWS + theirs, today)
    assert everything["longest_streak_days"] == 5


async def test_invalid_stats_range_is_422(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    for params in (
        {"studied_from": "2023-02-30"},
        {"studied_to": "2024-13-01"},
        {"studied_from": "2024-03-02", "studied_to": "2024-03-01"},
    ):
        response = await client.get(STATS, params=params, headers=user_headers)
        assert response.status_code == 422, params


def study_day_queries(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The statements on the per-day rollup that the database client logged."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "tortoise.db_client" and "study_day" in r.getMessage()
    ]


async def test_by_day_and_totals_cover_only_the_default_window(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    set_today: Callable[[date], None],
) -> None:
    today = date(2024, 3, 1)
    set_today(today)
    rows: list[Row] = [("Go", 10, today - timedelta(days=n)) for n in (0, 1, 365, 366, 800)]
    await insert_records(await user_id(client, user_headers), rows)
    body = await get_stats(client, user_headers)
    # The last 366 days, today included: 2023-03-02 to 2024-03-01.
    first = today - timedelta(days=365)
    assert body == expected_stats(rows, today, first, today)
    assert [d["date"] for d in body["by_day"]] == ["2023-03-02", "2024-02-29", "2024-03-01"]
    # A start alone covers 366 days from it, an end alone the 366 days up to it.
    later = await get_stats(client, user_headers, studied_from="2021-12-22")
    assert later == expected_stats(rows, today, date(2021, 12, 22), date(2022, 12, 22))
    earlier = await get_stats(client, user_headers, studied_to="2023-03-01")
    assert earlier == expected_stats(rows, today, date(2022, 3, 1), date(2023, 3, 1))


async def test_a_range_longer_than_the_cap_is_422(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    longest = {"studied_from": "2023-01-01", "studied_to": "2024-01-01"}  # 366 days
    assert (await client.get(STATS, params=longest, headers=user_headers)).status_code == 200
    too_long = {"studied_from": "2022-12-31", "studied_to": "2024-01-01"}
    response = await client.get(STATS, params=too_long, headers=user_headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "studied_from"]
    assert "366 days" in response.json()["detail"][0]["msg"]


async def test_a_long_current_streak_is_read_in_one_query(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    set_today: Callable[[date], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    today = date(2024, 3, 1)
    set_today(today)
    streak = [("Go", 10, today - timedelta(days=n)) for n in range(1, 1001)]  # to yesterday
    older = [("Go", 10, today - timedelta(days=n)) for n in range(1002, 1100)]
    await insert_records(await user_id(client, user_headers), streak + older)
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    body = await get_stats(client, user_headers, studied_from="2024-02-01")
    assert body["current_streak_days"] == 1000
    assert body["longest_streak_days"] == 29  # within the range
    # by_day, by_subject and the streak: one statement each, however long the streak.
    assert len(study_day_queries(caplog)) == 3
