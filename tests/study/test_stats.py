"""GET /study-records/stats, checked against values computed here in plain Python."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.study.conftest import (
    URL,
    Row,
    expected_current,
    expected_stats,
    insert_records,
    user_id,
)

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects

STATS = f"{URL}/stats"
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


def queries_by_table(caplog: pytest.LogCaptureFixture) -> Counter[str]:
    """How many statements the database client logged, by the study table each reads."""
    tables = ("study_record", "study_day", "study_subject", "study_run", "study_record_count")
    counted: Counter[str] = Counter()
    for record in caplog.records:
        if record.name == "tortoise.db_client":
            message = record.getMessage()
            counted.update(t for t in tables if re.search(rf"\b{t}\b", message))
    return counted


async def test_without_a_range_totals_and_streaks_cover_every_record(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    set_today: Callable[[date], None],
) -> None:
    today = date(2024, 3, 1)
    set_today(today)
    rows: list[Row] = [("Go", 10, today - timedelta(days=n)) for n in (0, 1, 365, 366, 800, 801)]
    rows.append(("Rust", 7, today - timedelta(days=802)))
    await insert_records(await user_id(client, user_headers), rows)
    body = await get_stats(client, user_headers)
    expected = expected_stats(rows, today)
    # by_day alone is the last 366 days, today included: 2023-03-02 to 2024-03-01.
    expected["by_day"] = expected_stats(rows, today, today - timedelta(days=365), today)["by_day"]
    assert body == expected
    assert (body["total_minutes"], body["record_count"]) == (67, 7)
    assert body["longest_streak_days"] == 3  # 802 to 800 days ago, long before the window
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


async def test_stats_read_kept_rows_a_fixed_number_of_times_however_long_the_history(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    set_today: Callable[[date], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    today = date(2024, 3, 1)
    set_today(today)
    streak = [("Go", 10, today - timedelta(days=n)) for n in range(1, 1001)]  # to yesterday
    older = [(f"S{n % 3}", 10, today - timedelta(days=n)) for n in range(1002, 1100)]
    await insert_records(await user_id(client, user_headers), streak + older)
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")

    whole = await get_stats(client, user_headers)
    assert (whole["longest_streak_days"], whole["current_streak_days"]) == (1000, 1000)
    assert whole["record_count"] == 1098
    # by_day from the window's rollup rows; subjects from their kept rows; the longest
    # and the current streak one kept run each. Never the records, never every day.
    assert queries_by_table(caplog) == {"study_day": 1, "study_subject": 1, "study_run": 2}

    caplog.clear()
    ranged = await get_stats(client, user_headers, studied_from="2024-02-01")
    assert ranged["current_streak_days"] == 1000
    assert ranged["longest_streak_days"] == 29  # within the range
    # by_day and by_subject over the range's rollup rows, the current streak one run.
    assert queries_by_table(caplog) == {"study_day": 2, "study_run": 1}


async def test_a_superusers_stats_without_a_range_cover_everyones_records(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_user_headers: dict[str, str],
    superuser_headers: dict[str, str],
    set_today: Callable[[date], None],
) -> None:
    today = date(2024, 3, 1)
    set_today(today)
    mine: list[Row] = [("Math", 30, date(2020, 5, 1)), ("Math", 5, date(2020, 5, 2))]
    theirs: list[Row] = [("math", 50, date(2020, 5, 3)), ("Math", 1, today)]
    await insert_records(await user_id(client, user_headers), mine)
    await insert_records(await user_id(client, other_user_headers), theirs)
    everything = await get_stats(client, superuser_headers)
    expected = expected_stats(mine + theirs, today)
    expected["by_day"] = [{"date": "2024-03-01", "minutes": 1}]  # the window's days alone
    assert everything == expected
    assert everything["longest_streak_days"] == 3  # May 1-3, 2020, of two users
    assert everything["by_subject"] == [
        {"subject": "math", "minutes": 50, "records": 1},
        {"subject": "Math", "minutes": 36, "records": 3},
    ]
