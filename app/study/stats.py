"""Study statistics: totals, minutes per subject and per day, and streaks, read from the
per-day, per-subject rollup (a row per day and subject, however many records it sums)."""

import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from tortoise.functions import Sum
from tortoise.queryset import QuerySet

from app.platform.dialect import placeholders, quote
from app.study.conditions import exact_text
from app.study.models import StudyDay
from app.study.schemas import DayStats, StudyStats, SubjectStats, utc_today

# The current streak in one query: numbered newest first, the days of one unbroken run
# share `day number + row number`, and the newest run has the largest. Each dialect spells
# "day number" its own way; `{owner}` is the owner condition or nothing.
_DAY_NUMBER = {
    "postgres": "(d - DATE '2000-01-01')",
    "mysql": "TO_DAYS(d)",
    "sqlite": "CAST(julianday(d) AS INTEGER)",
}
_NEWEST_RUN = (
    "SELECT MAX(d) AS newest, COUNT(*) AS length FROM ("
    "SELECT d, {day_number} + ROW_NUMBER() OVER (ORDER BY d DESC) AS run FROM ("
    "SELECT DISTINCT {studied_on} AS d FROM {table} WHERE {studied_on} <= {today}{owner}"
    ") AS days) AS numbered GROUP BY run ORDER BY run DESC LIMIT 1"
)


class RangeTooLong(ValueError):
    """A range of more days than the stats may cover (STATS_MAX_DAYS)."""


def window(
    *, studied_from: date | None, studied_to: date | None, today: date, max_days: int
) -> tuple[date, date]:
    """The inclusive days the stats cover: the range asked for, at most `max_days` long;
    a missing end is `max_days` from the other, and with neither the last `max_days` days
    up to today. RangeTooLong past the cap (so `by_day` and every GROUP BY stay bounded)."""
    span = timedelta(days=max_days - 1)
    if studied_from is None:
        studied_to = studied_to or today
        studied_from = studied_to - span if studied_to - date.min >= span else date.min
    elif studied_to is None:
        studied_to = studied_from + span if date.max - studied_from >= span else date.max
    if studied_to - studied_from > span:
        raise RangeTooLong(f"the range covers more than {max_days} days")
    return studied_from, studied_to


def _longest_streak(days: Iterable[date]) -> int:
    """The longest run of consecutive days in an ascending sequence of distinct days."""
    longest = run = 0
    previous: date | None = None
    for day in days:
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest = max(longest, run)
        previous = day
    return longest


def _days(*, owner_id: uuid.UUID | None) -> QuerySet[StudyDay]:
    return StudyDay.all() if owner_id is None else StudyDay.filter(owner_id=owner_id)


async def _current_streak(*, owner_id: uuid.UUID | None, today: date) -> int:
    """The run of days with records that ends today, or yesterday when today has none yet:
    one query, however long the run or the history."""
    conn = StudyDay._meta.db
    dialect = conn.capabilities.dialect
    marks = placeholders(dialect, 2)
    params: list[Any] = [today.isoformat() if dialect == "sqlite" else today]
    owner = ""
    if owner_id is not None:
        owner = f" AND {quote('owner_id', dialect)} = {marks[1]}"
        params.append(owner_id if dialect == "postgres" else str(owner_id))
    sql = _NEWEST_RUN.format(
        day_number=_DAY_NUMBER[dialect],
        studied_on=quote("studied_on", dialect),
        table=quote(StudyDay._meta.db_table, dialect),
        today=marks[0],
        owner=owner,
    )
    _, rows = await conn.execute_query(sql, params)
    if not rows:
        return 0
    newest = rows[0]["newest"]
    if isinstance(newest, str):
        newest = date.fromisoformat(newest[:10])
    elif isinstance(newest, datetime):
        newest = newest.date()
    return int(rows[0]["length"]) if newest >= today - timedelta(days=1) else 0


async def summarize(
    *,
    owner_id: uuid.UUID | None,
    studied_from: date,
    studied_to: date,
    today: date | None = None,
) -> StudyStats:
    """The records of `owner_id` (everyone's for None) in the inclusive date range (see
    `window`), summed up by GROUP BY queries over the rollup, so the cost follows the days
    of the range, not the records; the current streak is one query."""
    today = today or utc_today()
    query = _days(owner_id=owner_id).filter(
        studied_on__gte=studied_from, studied_on__lte=studied_to
    )
    day_rows = (
        await query.annotate(day_minutes=Sum("minutes"), day_records=Sum("records"))
        .group_by("studied_on")
        .order_by("studied_on")
        .values("studied_on", "day_minutes", "day_records")
    )
    by_day = [DayStats(date=row["studied_on"], minutes=int(row["day_minutes"])) for row in day_rows]

    table = StudyDay._meta.basetable
    dialect = StudyDay._meta.db.capabilities.dialect
    subject_rows = (
        await query.annotate(
            # MySQL would otherwise put "Math" and "math" in one group.
            subject_key=exact_text(table["subject"], dialect),
            subject_minutes=Sum("minutes"),
            subject_records=Sum("records"),
        )
        .group_by("subject_key")
        .values("subject_key", "subject_minutes", "subject_records")
    )
    by_subject = sorted(
        (
            SubjectStats(
                subject=row["subject_key"],
                minutes=int(row["subject_minutes"]),
                records=int(row["subject_records"]),
            )
            for row in subject_rows
        ),
        # Sorted here, not in SQL: each database orders strings by its own collation.
        key=lambda item: (-item.minutes, item.subject),
    )
    return StudyStats(
        total_minutes=sum(day.minutes for day in by_day),
        record_count=sum(int(row["day_records"]) for row in day_rows),
        by_subject=by_subject,
        by_day=by_day,
        longest_streak_days=_longest_streak(day.date for day in by_day),
        current_streak_days=await _current_streak(owner_id=owner_id, today=today),
    )
