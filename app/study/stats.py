"""Study statistics: totals, minutes per subject and per day, and streaks.

A user's stats read only kept rows (app/study/tally.py), never its records: without a range
the totals and subjects come from its per-subject rows and the streaks from its runs, one
indexed row each; `by_day`, and every figure of a range (at most STATS_MAX_DAYS long), from
the per-day rollup of those days. So the cost follows the subjects and the days of the
window, not the records or the days of a whole history. Everyone's stats (a superuser, the
CLI without --user) group the same kept rows of every user, and find everyone's streaks
over the distinct days of the rollup: their cost follows the users and everyone's days.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from tortoise.functions import Sum
from tortoise.queryset import QuerySet

from app.platform.dialect import placeholders, quote
from app.study.conditions import exact_text
from app.study.models import StudyDay, StudyRun, StudySubject
from app.study.schemas import DayStats, StudyStats, SubjectStats, utc_today
from app.study.tally import as_date

# Everyone's streaks, one query each over the distinct days of the rollup: numbered in date
# order, the days of one unbroken run share `day number - row number` (numbered newest
# first, `day number + row number`, the newest run the largest). Each dialect spells "day
# number" its own way.
_DAY_NUMBER = {
    "postgres": "(d - DATE '2000-01-01')",
    "mysql": "TO_DAYS(d)",
    "sqlite": "CAST(julianday(d) AS INTEGER)",
}
_NEWEST_RUN = (
    "SELECT MAX(d) AS newest, COUNT(*) AS length FROM ("
    "SELECT d, {day_number} + ROW_NUMBER() OVER (ORDER BY d DESC) AS run FROM ("
    "SELECT DISTINCT {studied_on} AS d FROM {table} WHERE {studied_on} <= {today}"
    ") AS days) AS numbered GROUP BY run ORDER BY run DESC LIMIT 1"
)
_LONGEST_RUN = (
    "SELECT MAX(length) AS longest FROM (SELECT COUNT(*) AS length FROM ("
    "SELECT {day_number} - ROW_NUMBER() OVER (ORDER BY d) AS run FROM ("
    "SELECT DISTINCT {studied_on} AS d FROM {table}"
    ") AS days) AS numbered GROUP BY run) AS runs"
)


class RangeTooLong(ValueError):
    """A range of more days than the stats may cover (STATS_MAX_DAYS)."""


@dataclass(frozen=True, slots=True)
class Window:
    """The days `by_day` covers, `first` to `last`. `ranged` when the caller gave a bound:
    then every figure but the current streak covers those days; without one, the totals,
    subjects and longest streak cover every record."""

    first: date
    last: date
    ranged: bool


def window(
    *, studied_from: date | None, studied_to: date | None, today: date, max_days: int
) -> Window:
    """The inclusive days the stats cover: the range asked for, at most `max_days` long;
    a missing end is `max_days` from the other, and with neither the last `max_days` days
    up to today. RangeTooLong past the cap (so `by_day` and every GROUP BY stay bounded)."""
    ranged = studied_from is not None or studied_to is not None
    span = timedelta(days=max_days - 1)
    if studied_from is None:
        studied_to = studied_to or today
        studied_from = studied_to - span if studied_to - date.min >= span else date.min
    elif studied_to is None:
        studied_to = studied_from + span if date.max - studied_from >= span else date.max
    if studied_to - studied_from > span:
        raise RangeTooLong(f"the range covers more than {max_days} days")
    return Window(first=studied_from, last=studied_to, ranged=ranged)


def _longest_streak(days: Iterable[date]) -> int:
    """The longest run of consecutive days in an ascending sequence of distinct days."""
    longest = run = 0
    previous: date | None = None
    for day in days:
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest = max(longest, run)
        previous = day
    return longest


def _current(first_day: date, last_day: date, today: date) -> int:
    """The days of a run up to today, when it holds today or yesterday; else 0."""
    yesterday = today - timedelta(days=1)
    end = today if first_day <= today <= last_day else yesterday
    return (end - first_day).days + 1 if first_day <= end <= last_day else 0


async def _owner_streaks(
    *, owner_id: uuid.UUID, today: date, whole: bool
) -> tuple[int | None, int]:
    """The user's longest streak (when `whole`) and current one, one kept run each."""
    longest = None
    if whole:
        longest = (
            await StudyRun.filter(owner_id=owner_id)
            .order_by("-length")
            .first()
            .values_list("length", flat=True)
        )
    # The first run to end yesterday or later: the one holding yesterday or today, if any.
    newest = (
        await StudyRun.filter(owner_id=owner_id, last_day__gte=today - timedelta(days=1))
        .order_by("last_day")
        .first()
        .values_list("first_day", "last_day")
    )
    current = _current(as_date(newest[0]), as_date(newest[1]), today) if newest else 0
    return (int(longest or 0) if whole else None), current


async def _everyones_streak(sql: str, today: date | None = None) -> dict[str, Any]:
    """The one row of a streak query over everyone's days (`_NEWEST_RUN` with `today`,
    `_LONGEST_RUN` without)."""
    conn = StudyDay._meta.db
    dialect = conn.capabilities.dialect
    statement = sql.format(
        day_number=_DAY_NUMBER[dialect],
        studied_on=quote("studied_on", dialect),
        table=quote(StudyDay._meta.db_table, dialect),
        today=placeholders(dialect, 1)[0],
    )
    params: list[Any] = []
    if today is not None:
        params.append(today.isoformat() if dialect == "sqlite" else today)
    _, rows = await conn.execute_query(statement, params)
    return dict(rows[0]) if rows else {}


async def _everyones_streaks(*, today: date, whole: bool) -> tuple[int | None, int]:
    """Everyone's longest streak over every day (when `whole`) and current streak."""
    longest = None
    if whole:
        longest = int((await _everyones_streak(_LONGEST_RUN)).get("longest") or 0)
    newest = await _everyones_streak(_NEWEST_RUN, today)
    current = 0
    if newest.get("newest") is not None and as_date(newest["newest"]) >= today - timedelta(days=1):
        current = int(newest["length"])
    return longest, current


def _days(*, owner_id: uuid.UUID | None) -> QuerySet[StudyDay]:
    return StudyDay.all() if owner_id is None else StudyDay.filter(owner_id=owner_id)


def _by_subject(rows: Iterable[tuple[str, Any, Any]]) -> list[SubjectStats]:
    """(subject, minutes, records) rows, most minutes first, then by subject."""
    return sorted(
        (
            SubjectStats(subject=subject, minutes=int(minutes), records=int(records))
            for subject, minutes, records in rows
        ),
        # Sorted here, not in SQL: each database orders strings by its own collation.
        key=lambda item: (-item.minutes, item.subject),
    )


async def _kept_subjects(*, owner_id: uuid.UUID | None) -> list[SubjectStats]:
    """Every record's minutes and count per subject, from the kept per-subject rows (the
    user's: one row a subject; everyone's: grouped)."""
    if owner_id is not None:
        rows = await StudySubject.filter(owner_id=owner_id).values_list(
            "subject", "minutes", "records"
        )
        return _by_subject(rows)
    dialect = StudySubject._meta.db.capabilities.dialect
    grouped = (
        await StudySubject.all()
        .annotate(
            # MySQL would otherwise put "Math" and "math" in one group.
            subject_key=exact_text(StudySubject._meta.basetable["subject"], dialect),
            subject_minutes=Sum("minutes"),
            subject_records=Sum("records"),
        )
        .group_by("subject_key")
        .values_list("subject_key", "subject_minutes", "subject_records")
    )
    return _by_subject(grouped)


async def _range_subjects(query: QuerySet[StudyDay]) -> list[SubjectStats]:
    """Minutes and records per subject over the rollup rows of a range."""
    dialect = StudyDay._meta.db.capabilities.dialect
    grouped = (
        await query.annotate(
            # MySQL would otherwise put "Math" and "math" in one group.
            subject_key=exact_text(StudyDay._meta.basetable["subject"], dialect),
            subject_minutes=Sum("minutes"),
            subject_records=Sum("records"),
        )
        .group_by("subject_key")
        .values_list("subject_key", "subject_minutes", "subject_records")
    )
    return _by_subject(grouped)


async def summarize(
    *, owner_id: uuid.UUID | None, period: Window, today: date | None = None
) -> StudyStats:
    """The stats of `owner_id` (everyone's for None) over `period` (see `Window`)."""
    today = today or utc_today()
    query = _days(owner_id=owner_id).filter(
        studied_on__gte=period.first, studied_on__lte=period.last
    )
    day_rows = (
        await query.annotate(day_minutes=Sum("minutes"), day_records=Sum("records"))
        .group_by("studied_on")
        .order_by("studied_on")
        .values("studied_on", "day_minutes")
    )
    by_day = [DayStats(date=row["studied_on"], minutes=int(row["day_minutes"])) for row in day_rows]
    if owner_id is None:
        longest, current = await _everyones_streaks(today=today, whole=not period.ranged)
    else:
        longest, current = await _owner_streaks(
            owner_id=owner_id, today=today, whole=not period.ranged
        )
    if period.ranged:
        by_subject = await _range_subjects(query)
        # A range is at most STATS_MAX_DAYS long, and its days are read already.
        longest = _longest_streak(day.date for day in by_day)
    else:
        by_subject = await _kept_subjects(owner_id=owner_id)
    return StudyStats(
        total_minutes=sum(s.minutes for s in by_subject),
        record_count=sum(s.records for s in by_subject),
        by_subject=by_subject,
        by_day=by_day,
        longest_streak_days=longest or 0,
        current_streak_days=current,
    )
