"""Study statistics: totals, minutes per subject and per day, and streaks, read from the
per-day, per-subject rollup (a row per day and subject, however many records it sums)."""

import uuid
from collections.abc import Iterable
from datetime import date, timedelta

from tortoise.functions import Sum
from tortoise.queryset import QuerySet

from app.study.conditions import exact_text
from app.study.models import StudyDay
from app.study.schemas import DayStats, StudyStats, SubjectStats, utc_today

# Days read per query while walking back through the current streak.
_STREAK_CHUNK = 64


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
    """Reads the days with records backwards from today, a few at a time, until a gap."""
    expected = today
    streak = 0
    last_seen = today + timedelta(days=1)
    while True:
        days = (
            await _days(owner_id=owner_id)
            .filter(studied_on__lt=last_seen)
            .distinct()
            .order_by("-studied_on")
            .limit(_STREAK_CHUNK)
            .values_list("studied_on", flat=True)
        )
        for day in days:
            if streak == 0 and day == today - timedelta(days=1):
                expected = day  # today has no record yet: the streak may end yesterday
            if day != expected:
                return streak
            streak += 1
            expected = day - timedelta(days=1)
        if len(days) < _STREAK_CHUNK:
            return streak
        last_seen = days[-1]


async def summarize(
    *,
    owner_id: uuid.UUID | None,
    studied_from: date | None = None,
    studied_to: date | None = None,
    today: date | None = None,
) -> StudyStats:
    """The records of `owner_id` (everyone's for None) in the inclusive date range, summed
    up by GROUP BY queries over the rollup, so the cost follows days, not records."""
    today = today or utc_today()
    query = _days(owner_id=owner_id)
    if studied_from is not None:
        query = query.filter(studied_on__gte=studied_from)
    if studied_to is not None:
        query = query.filter(studied_on__lte=studied_to)
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
