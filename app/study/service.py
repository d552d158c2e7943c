"""The work behind the study record routes and the `study` CLI commands.

Every function is scoped by `owner_id`: the records of that user, or all records when it
is None (superusers and the admin CLI). Nothing here knows about HTTP.
"""

import builtins
import csv
import io
import string
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from pypika_tortoise import SqlContext, Table
from pypika_tortoise.functions import Lower
from pypika_tortoise.terms import Criterion, Function, Term, ValueWrapper
from pypika_tortoise.utils import format_alias_sql
from tortoise.expressions import Q, ResolveContext
from tortoise.filters import Like, escape_like
from tortoise.functions import Count, Sum
from tortoise.query_utils import QueryModifier
from tortoise.queryset import QuerySet

from app.study.models import StudyRecord
from app.study.schemas import (
    DayStats,
    StudyRecordCreate,
    StudyRecordRead,
    StudyRecordUpdate,
    StudyStats,
    SubjectStats,
    utc_today,
)

OrderBy = Literal["studied_on", "-studied_on", "minutes", "-minutes", "created_at", "-created_at"]
DEFAULT_ORDER_BY: OrderBy = "-studied_on"
EXPORT_CHUNK_SIZE = 500
EXPORT_FIELDS = tuple(StudyRecordRead.model_fields)

# MySQL's default collations compare case- and accent-insensitively (and "a" = "a "); this
# one compares code points, as PostgreSQL and SQLite do by default.
_MYSQL_EXACT_COLLATION = "utf8mb4_bin"
_ASCII_TO_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class StudyRecordNotFound(LookupError):
    """No such record for this owner: it does not exist or belongs to someone else."""


@dataclass(frozen=True, slots=True)
class RecordFilters:
    """The list and export filters; None means "not filtered by this"."""

    subject: str | None = None
    studied_from: date | None = None
    studied_to: date | None = None
    q: str | None = None


NO_FILTERS = RecordFilters()


# --- portable text matching -------------------------------------------------------------


class _Collate(Term):
    def __init__(self, term: Term, collation: str) -> None:
        super().__init__()
        self.term = term
        self.collation = collation  # one of our constants, never input

    def get_sql(self, ctx: SqlContext) -> str:
        sql = f"{self.term.get_sql(ctx.copy(with_alias=False))} COLLATE {self.collation}"
        return format_alias_sql(sql, self.alias, ctx) if ctx.with_alias else sql


def _literal(value: str) -> ValueWrapper:
    return ValueWrapper(value, allow_parametrize=False)


def _exact_text(column: Term, dialect: str) -> Term:
    """The column compared code point by code point on every database."""
    if dialect == "mysql":
        return _Collate(column, _MYSQL_EXACT_COLLATION)
    return column


def _ascii_lower(column: Term, dialect: str) -> Term:
    """LOWER() for A-Z only, which is all SQLite's LOWER() does; other letters stay as they are."""
    if dialect == "sqlite":
        return Lower(column)
    if dialect == "postgres":
        return Function(
            "TRANSLATE",
            column,
            _literal(string.ascii_uppercase),
            _literal(string.ascii_lowercase),
        )
    folded = _exact_text(column, dialect)
    for upper, lower in zip(string.ascii_uppercase, string.ascii_lowercase, strict=True):
        folded = Function("REPLACE", folded, _literal(upper), _literal(lower))
    return folded


class _Where(Q):
    """A WHERE condition built for the dialect at hand: for the cases where Tortoise's
    lookups (`=`, `icontains`) give different answers on different databases."""

    def __init__(self, build: Callable[[Table, str], Criterion]) -> None:
        super().__init__()
        self.build = build

    def resolve(self, resolve_context: ResolveContext) -> QueryModifier:
        dialect = resolve_context.model._meta.db.capabilities.dialect
        criterion = self.build(resolve_context.table, dialect)
        return QueryModifier(where_criterion=~criterion if self._is_negated else criterion)

    def __invert__(self) -> Q:
        negated = _Where(self.build)
        negated._is_negated = not self._is_negated
        return negated


def subject_is(subject: str) -> Q:
    """subject equals exactly (MySQL's `=` alone would match "Math" for "math")."""
    return _Where(
        lambda table, dialect: _exact_text(table["subject"], dialect) == ValueWrapper(subject)
    )


def title_contains(needle: str) -> Q:
    """title contains the text: case-insensitive for A-Z, exact for every other character
    (accents included), `%`, `_` and `\\` taken literally; the same on every database."""
    pattern = f"%{escape_like(needle.translate(_ASCII_TO_LOWER))}%"

    def build(table: Table, dialect: str) -> Criterion:
        # MySQL's LIKE escapes with a backslash by default; the others need to be told.
        escape = "" if dialect == "mysql" else " ESCAPE '\\'"
        return Like(_ascii_lower(table["title"], dialect), ValueWrapper(pattern), escape=escape)

    return _Where(build)


# --- queries --------------------------------------------------------------------------


def scoped(*, owner_id: uuid.UUID | None) -> QuerySet[StudyRecord]:
    """The records `owner_id` may see: its own, or all of them for None."""
    query = StudyRecord.all()
    return query if owner_id is None else query.filter(owner_id=owner_id)


def _filtered(*, owner_id: uuid.UUID | None, filters: RecordFilters) -> QuerySet[StudyRecord]:
    query = scoped(owner_id=owner_id)
    if filters.subject is not None:
        query = query.filter(subject_is(filters.subject))
    if filters.studied_from is not None:
        query = query.filter(studied_on__gte=filters.studied_from)
    if filters.studied_to is not None:
        query = query.filter(studied_on__lte=filters.studied_to)
    if filters.q:
        query = query.filter(title_contains(filters.q))
    return query


async def get(*, record_id: int, owner_id: uuid.UUID | None) -> StudyRecord | None:
    return await scoped(owner_id=owner_id).filter(id=record_id).first()


async def get_or_404(*, record_id: int, owner_id: uuid.UUID | None) -> StudyRecord:
    """The record, or StudyRecordNotFound (which the API answers with 404)."""
    record = await get(record_id=record_id, owner_id=owner_id)
    if record is None:
        raise StudyRecordNotFound(record_id)
    return record


def list(  # pylint: disable=redefined-builtin  # STYLE.md names the service verbs; builtins.list is not used below
    *,
    owner_id: uuid.UUID | None,
    filters: RecordFilters = NO_FILTERS,
    order_by: OrderBy = DEFAULT_ORDER_BY,
) -> QuerySet[StudyRecord]:
    """The filtered, ordered query; the caller pages it. `id` breaks ties so pages are stable."""
    tie_breaker = "-id" if order_by.startswith("-") else "id"
    return _filtered(owner_id=owner_id, filters=filters).order_by(order_by, tie_breaker)


async def page_of(
    query: QuerySet[StudyRecord], *, offset: int, limit: int
) -> tuple[builtins.list[dict[str, Any]], int]:
    """One page of `query` as plain rows (no ORM objects to build), and how many rows the
    whole query has.

    Two statements on purpose: the page reads 20 entries off the (owner_id, studied_on,
    id) index and the count scans only the index, where one statement with
    `COUNT(*) OVER ()` would read and sort every row of the owner (slower past a few
    hundred records).
    """
    rows = await query.offset(offset).limit(limit).values(*EXPORT_FIELDS)
    if offset == 0 and len(rows) < limit:
        return rows, len(rows)  # the whole result is on this page: nothing to count
    return rows, await query.count()


async def create(*, owner_id: uuid.UUID, record_in: StudyRecordCreate) -> StudyRecord:
    return await StudyRecord.create(owner_id=owner_id, **record_in.model_dump())


async def update(
    *, record: StudyRecord, record_in: StudyRecordCreate | StudyRecordUpdate
) -> StudyRecord:
    """A StudyRecordCreate replaces every input field; a StudyRecordUpdate only those given."""
    changes = record_in.model_dump(exclude_unset=isinstance(record_in, StudyRecordUpdate))
    if changes:
        record.update_from_dict(changes)
        # Only the changed columns: a concurrent PATCH of another field is not overwritten.
        await record.save(update_fields=[*changes, "updated_at"])
    return record


async def delete(*, record: StudyRecord) -> StudyRecord:
    """Deletes the record and returns it as it was."""
    await record.delete()
    return record


# --- statistics -----------------------------------------------------------------------


def _longest_streak(days: Iterable[date]) -> int:
    """The longest run of consecutive days in an ascending sequence of distinct days."""
    longest = run = 0
    previous: date | None = None
    for day in days:
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest = max(longest, run)
        previous = day
    return longest


async def _current_streak(*, owner_id: uuid.UUID | None, today: date) -> int:
    days = (
        await scoped(owner_id=owner_id)
        .filter(studied_on__lte=today)
        .distinct()
        .order_by("-studied_on")
        .values_list("studied_on", flat=True)
    )
    expected = today
    streak = 0
    for day in days:
        if streak == 0 and day == today - timedelta(days=1):
            expected = day  # today has no record yet: the streak may end yesterday
        if day != expected:
            break
        streak += 1
        expected = day - timedelta(days=1)
    return streak


async def stats(
    *,
    owner_id: uuid.UUID | None,
    studied_from: date | None = None,
    studied_to: date | None = None,
    today: date | None = None,
) -> StudyStats:
    """Totals, per subject, per day and streaks, from GROUP BY queries (never every row)."""
    today = today or utc_today()
    query = _filtered(
        owner_id=owner_id,
        filters=RecordFilters(studied_from=studied_from, studied_to=studied_to),
    )
    day_rows = (
        await query.annotate(day_minutes=Sum("minutes"), day_records=Count("id"))
        .group_by("studied_on")
        .order_by("studied_on")
        .values("studied_on", "day_minutes", "day_records")
    )
    by_day = [DayStats(date=row["studied_on"], minutes=int(row["day_minutes"])) for row in day_rows]

    table = StudyRecord._meta.basetable
    dialect = StudyRecord._meta.db.capabilities.dialect
    subject_rows = (
        await query.annotate(
            # MySQL would otherwise put "Math" and "math" in one group.
            subject_key=_exact_text(table["subject"], dialect),
            subject_minutes=Sum("minutes"),
            subject_records=Count("id"),
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


# --- export ---------------------------------------------------------------------------


async def iter_chunks(
    *,
    owner_id: uuid.UUID | None,
    filters: RecordFilters = NO_FILTERS,
    chunk_size: int = EXPORT_CHUNK_SIZE,
) -> AsyncIterator[tuple[StudyRecord, ...]]:
    """The matching records in id order, `chunk_size` at a time (keyset: memory stays flat)."""
    last_id = 0
    while True:
        chunk = tuple(
            await _filtered(owner_id=owner_id, filters=filters)
            .filter(id__gt=last_id)
            .order_by("id")
            .limit(chunk_size)
        )
        if chunk:
            yield chunk
        if len(chunk) < chunk_size:
            return
        last_id = chunk[-1].id


def _csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


async def export_csv(
    *,
    owner_id: uuid.UUID | None,
    filters: RecordFilters = NO_FILTERS,
) -> AsyncIterator[str]:
    """CSV text, a header line then one chunk of rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    yield buffer.getvalue()
    async for chunk in iter_chunks(owner_id=owner_id, filters=filters):
        buffer.seek(0)
        buffer.truncate()
        for record in chunk:
            row = StudyRecordRead.model_validate(record).model_dump(mode="json")
            writer.writerow(_csv_cell(row[name]) for name in EXPORT_FIELDS)
        yield buffer.getvalue()


async def export_jsonl(
    *,
    owner_id: uuid.UUID | None,
    filters: RecordFilters = NO_FILTERS,
) -> AsyncIterator[str]:
    """One JSON record per line, one chunk of lines at a time."""
    async for chunk in iter_chunks(owner_id=owner_id, filters=filters):
        yield "".join(
            StudyRecordRead.model_validate(record).model_dump_json() + "\n" for record in chunk
        )
