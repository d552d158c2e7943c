"""The work behind the study record routes and the `study` CLI commands.

Every function is scoped by `owner_id`: the records of that user, or all records when it
is None (superusers and the admin CLI). Nothing here knows about HTTP.
"""

import builtins
import functools
import string
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, get_args

from pypika_tortoise import SqlContext, Table
from pypika_tortoise.functions import Lower
from pypika_tortoise.terms import Criterion, Function, Term, Tuple, ValueWrapper
from pypika_tortoise.utils import format_alias_sql
from tortoise.expressions import Q, ResolveContext
from tortoise.filters import Like, escape_like
from tortoise.functions import Sum
from tortoise.query_utils import QueryModifier
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from app.platform import csvsafe
from app.study import tally
from app.study.models import StudyDay, StudyRecord
from app.study.schemas import (
    DEFAULT_ORDER_BY,
    DayStats,
    OrderBy,
    StudyRecordCreate,
    StudyRecordRead,
    StudyRecordUpdate,
    StudyStats,
    SubjectStats,
    utc_today,
)

EXPORT_CHUNK_SIZE = 500
EXPORT_FIELDS = tuple(StudyRecordRead.model_fields)

# MySQL's default collations compare case- and accent-insensitively (and "a" = "a "); this
# one compares code points, as PostgreSQL and SQLite do by default.
_MYSQL_EXACT_COLLATION = "utf8mb4_bin"
_ASCII_TO_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# Days read per query while walking back through the current streak.
_STREAK_CHUNK = 64


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
    return _ordered(owner_id=owner_id, filters=filters, order_by=order_by)


def _ordered(
    *, owner_id: uuid.UUID | None, filters: RecordFilters, order_by: OrderBy
) -> QuerySet[StudyRecord]:
    tie_breaker = "-id" if order_by.startswith("-") else "id"
    return _filtered(owner_id=owner_id, filters=filters).order_by(order_by, tie_breaker)


async def total(*, owner_id: uuid.UUID | None, filters: RecordFilters = NO_FILTERS) -> int:
    """How many records the query has: the kept count when unfiltered, else a count over
    the owner's index."""
    if filters == NO_FILTERS:
        if owner_id is None:
            return await tally.all_records()
        return await tally.owner_records(owner_id)
    return await _filtered(owner_id=owner_id, filters=filters).count()


async def page_of(
    *,
    owner_id: uuid.UUID | None,
    filters: RecordFilters = NO_FILTERS,
    order_by: OrderBy = DEFAULT_ORDER_BY,
    offset: int,
    limit: int,
) -> tuple[builtins.list[dict[str, Any]], int]:
    """One page as plain rows (no ORM objects to build), and how many rows the whole
    query has.

    The page reads `limit` entries off the index of the sort key; the total is a kept
    count when there are no filters (see `total`), so neither grows with the user's data.
    """
    if filters == NO_FILTERS:
        return await _unfiltered_page(
            owner_id=owner_id, order_by=order_by, offset=offset, limit=limit
        )
    query = _ordered(owner_id=owner_id, filters=filters, order_by=order_by)
    rows = await query.offset(offset).limit(limit).values(*EXPORT_FIELDS)
    if offset == 0 and len(rows) < limit:
        return rows, len(rows)  # the whole result is on this page: nothing to count
    return rows, await total(owner_id=owner_id, filters=filters)


_TOTAL_COLUMN = "page_total__"
_ORDER_BYS = frozenset(get_args(OrderBy))


@functools.cache
def _unfiltered_page_sql(dialect: str, order_by: OrderBy, all_owners: bool) -> str:
    """The page and its kept total in one statement, written once per dialect, order and
    scope: the unfiltered list is the hot path, and building it with the query builder on
    every request cost more than running it.

    Parameters: (owner, limit, offset) on PostgreSQL, which names the owner twice by
    number; (owner, owner, limit, offset) on the others; (limit, offset) for all owners."""
    q = "`" if dialect == "mysql" else '"'

    def mark(number: int) -> str:
        return {"postgres": f"${number}", "mysql": "%s"}.get(dialect, "?")

    if order_by not in _ORDER_BYS:  # only our own names ever reach the SQL text
        raise ValueError(f"unknown order: {order_by!r}")
    # The read model's fields are the table's own column names.
    columns = ", ".join(f"{q}{name}{q}" for name in EXPORT_FIELDS)
    direction = "DESC" if order_by.startswith("-") else "ASC"
    key = order_by.lstrip("-")
    owner = f"{q}owner_id{q} = {mark(1)}"
    if all_owners:
        # The kept total is spread over slots (see app/study/tally.py).
        kept, where, first = f"SUM({q}records{q}) FROM {q}study_record_total{q}", "", 1
    else:
        kept = f"{q}records{q} FROM {q}study_record_count{q} WHERE {owner}"
        where, first = f" WHERE {owner}", 2
    return (
        f"SELECT {columns}, (SELECT {kept}) AS {q}{_TOTAL_COLUMN}{q} "  # noqa: S608  (our constants only)
        f"FROM {q}study_record{q}{where} "
        f"ORDER BY {q}{key}{q} {direction}, {q}id{q} {direction} "
        f"LIMIT {mark(first)} OFFSET {mark(first + 1)}"
    )


async def _unfiltered_page(
    *, owner_id: uuid.UUID | None, order_by: OrderBy, offset: int, limit: int
) -> tuple[builtins.list[dict[str, Any]], int]:
    """One round trip for a page of the unfiltered list and its total (the kept count,
    read in the same statement, so the two agree); a second only for a page past the end."""
    conn = StudyRecord._meta.db  # pylint: disable=protected-access  # Tortoise's public metadata
    dialect = conn.capabilities.dialect
    sql = _unfiltered_page_sql(dialect, order_by, owner_id is None)
    params: builtins.list[Any] = [limit, offset]
    if owner_id is not None:
        # asyncpg takes a UUID for the uuid column; the others store its text.
        owner = owner_id if dialect == "postgres" else str(owner_id)
        params = [owner, limit, offset] if dialect == "postgres" else [owner, owner, limit, offset]
    found = await conn.execute_query_dict(sql, params)
    if not found:
        return [], (0 if offset == 0 else await total(owner_id=owner_id))
    kept = found[0][_TOTAL_COLUMN]
    rows = [_record_row(row, dialect) for row in found]
    if offset == 0 and len(rows) < limit:
        return rows, len(rows)
    return rows, int(kept or 0)


def _record_row(row: dict[str, Any], dialect: str) -> dict[str, Any]:
    """A row as `.values()` gives it: asyncpg's types are already the model's; the other
    drivers hand back text or naive times, which the fields convert."""
    if dialect == "postgres":
        return {name: row[name] for name in EXPORT_FIELDS}
    fields_map = StudyRecord._meta.fields_map  # pylint: disable=protected-access  # as above
    return {name: fields_map[name].to_python_value(row[name]) for name in EXPORT_FIELDS}


# --- cursor (keyset) pages -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Position:
    """A place between two records in one order: after (or, going backwards, before) the
    record whose sort key is `value` and whose id is `record_id`."""

    order_by: OrderBy
    backwards: bool
    value: date | int | datetime
    record_id: int


@dataclass(frozen=True, slots=True)
class CursorSlice:
    items: builtins.list[dict[str, Any]]
    next: Position | None
    previous: Position | None
    current_backwards: Position | None


def _beyond(order_by: OrderBy, value: Any, record_id: int, *, later: bool) -> Q:
    """Records after (value, id) in the ascending order of (key, id), or before it.

    PostgreSQL and SQLite compare the pair as one row value, which is an index range of
    its own; MySQL does not range-scan row values, but it does the equivalent OR."""
    key = order_by.lstrip("-")

    def build(table: Table, dialect: str) -> Criterion:
        column, ident = table[key], table["id"]
        if dialect == "mysql":
            if later:
                return (column > ValueWrapper(value)) | (
                    (column == ValueWrapper(value)) & (ident > ValueWrapper(record_id))
                )
            return (column < ValueWrapper(value)) | (
                (column == ValueWrapper(value)) & (ident < ValueWrapper(record_id))
            )
        pair, bound = Tuple(column, ident), Tuple(ValueWrapper(value), ValueWrapper(record_id))
        return pair > bound if later else pair < bound

    return _Where(build)


def position_of(row: dict[str, Any], order_by: OrderBy, *, backwards: bool) -> Position:
    return Position(order_by, backwards, row[order_by.lstrip("-")], row["id"])


async def cursor_page(
    *,
    owner_id: uuid.UUID | None,
    filters: RecordFilters = NO_FILTERS,
    order_by: OrderBy = DEFAULT_ORDER_BY,
    size: int,
    position: Position | None,
) -> CursorSlice:
    """`size` records from `position` (the start for None), by keyset: the database seeks
    to the position on the sort key's index, so the last page costs what the first does.
    Ties in the sort key are broken by id, so a walk returns every record exactly once."""
    descending = order_by.startswith("-")
    backwards = position is not None and position.backwards
    # Reading backwards is reading the reversed order forwards, then turning the page round.
    read_descending = descending != backwards
    key = order_by.lstrip("-")
    query = _filtered(owner_id=owner_id, filters=filters)
    if position is not None:
        query = query.filter(
            _beyond(order_by, position.value, position.record_id, later=not read_descending)
        )
    sign = "-" if read_descending else ""
    rows = await query.order_by(f"{sign}{key}", f"{sign}id").limit(size + 1).values(*EXPORT_FIELDS)
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    if not rows:
        return CursorSlice(items=[], next=None, previous=None, current_backwards=None)
    has_next = more if not backwards else True
    has_previous = more if backwards else position is not None
    return CursorSlice(
        items=rows,
        next=position_of(rows[-1], order_by, backwards=False) if has_next else None,
        previous=position_of(rows[0], order_by, backwards=True) if has_previous else None,
        current_backwards=position_of(rows[-1], order_by, backwards=True) if has_next else None,
    )


async def create(*, owner_id: uuid.UUID, record_in: StudyRecordCreate) -> StudyRecord:
    """Stores the record and counts it, in one transaction."""
    async with in_transaction() as conn:
        record = await StudyRecord.create(
            owner_id=owner_id, **record_in.model_dump(), using_db=conn
        )
        delta = tally.Delta(owner_id)
        delta.add(studied_on=record.studied_on, subject=record.subject, minutes=record.minutes)
        await delta.apply(conn)
    return record


async def create_many(records: Iterable[StudyRecord], *, batch_size: int = 1_000) -> int:
    """Bulk insert (demo data, imports) with the counts of every owner kept, in one
    transaction; how many were stored."""
    records = builtins.list(records)
    async with in_transaction() as conn:
        await StudyRecord.bulk_create(records, batch_size=batch_size, using_db=conn)
        for delta in tally.deltas(
            (r.owner_id, r.studied_on, r.subject, r.minutes) for r in records
        ):
            await delta.apply(conn)
    return len(records)


async def _locked(record_id: int) -> StudyRecord:
    """The record's row as it is now, locked until the transaction ends (its counted day,
    subject and minutes cannot change under us)."""
    record = await StudyRecord.filter(id=record_id).select_for_update().first()
    if record is None:
        raise StudyRecordNotFound(record_id)  # deleted since it was loaded
    return record


async def update(
    *, record: StudyRecord, record_in: StudyRecordCreate | StudyRecordUpdate
) -> StudyRecord:
    """A StudyRecordCreate replaces every input field; a StudyRecordUpdate only those given.
    A record deleted meanwhile raises StudyRecordNotFound."""
    changes = record_in.model_dump(exclude_unset=isinstance(record_in, StudyRecordUpdate))
    if not changes:
        return record
    async with in_transaction() as conn:
        current = await _locked(record.id)
        delta = tally.Delta(current.owner_id)
        delta.add(
            studied_on=current.studied_on,
            subject=current.subject,
            minutes=current.minutes,
            sign=-1,
        )
        current.update_from_dict(changes)
        # Only the changed columns: a concurrent PATCH of another field is not overwritten.
        await current.save(update_fields=[*changes, "updated_at"], using_db=conn)
        delta.add(studied_on=current.studied_on, subject=current.subject, minutes=current.minutes)
        await delta.apply(conn)
    return current


async def delete(*, record: StudyRecord) -> StudyRecord:
    """Deletes the record and returns it as it was; StudyRecordNotFound when another
    request deleted it first (it is counted out once)."""
    async with in_transaction() as conn:
        current = await _locked(record.id)
        await StudyRecord.filter(id=current.id).using_db(conn).delete()
        delta = tally.Delta(current.owner_id)
        delta.add(
            studied_on=current.studied_on,
            subject=current.subject,
            minutes=current.minutes,
            sign=-1,
        )
        await delta.apply(conn)
    return current


async def delete_owner_records(*, owner_id: uuid.UUID) -> None:
    """Call inside the transaction that deletes the account, with its row locked: its
    records leave the total (its records, count and day rows go by cascade)."""
    await tally.delete_owner_records(StudyRecord._meta.db, owner_id)


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


async def stats(
    *,
    owner_id: uuid.UUID | None,
    studied_from: date | None = None,
    studied_to: date | None = None,
    today: date | None = None,
) -> StudyStats:
    """Totals, per subject, per day and streaks, from GROUP BY queries over the per-day,
    per-subject rollup (a row per day and subject, however many records it sums)."""
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
            subject_key=_exact_text(table["subject"], dialect),
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


# --- export ---------------------------------------------------------------------------


async def iter_chunks(
    *,
    owner_id: uuid.UUID | None,
    filters: RecordFilters = NO_FILTERS,
    order_by: OrderBy = DEFAULT_ORDER_BY,
    chunk_size: int = EXPORT_CHUNK_SIZE,
) -> AsyncIterator[builtins.list[dict[str, Any]]]:
    """The matching records as rows, in the list's order, `chunk_size` at a time: a walk of
    cursor pages (keyset), so memory stays flat and the last chunk costs what the first does."""
    position: Position | None = None
    while True:
        page = await cursor_page(
            owner_id=owner_id,
            filters=filters,
            order_by=order_by,
            size=chunk_size,
            position=position,
        )
        if page.items:
            yield page.items
        if page.next is None:
            return
        position = page.next


async def export_csv(
    *,
    owner_id: uuid.UUID | None,
    filters: RecordFilters = NO_FILTERS,
    order_by: OrderBy = DEFAULT_ORDER_BY,
    on_chunk: Callable[[int], None] | None = None,
) -> AsyncIterator[str]:
    """CSV text, a header line then one chunk of rows at a time, in the list's order
    (`on_chunk` gets each chunk's record count)."""
    yield csvsafe.line(EXPORT_FIELDS)
    async for chunk in iter_chunks(owner_id=owner_id, filters=filters, order_by=order_by):
        if on_chunk is not None:
            on_chunk(len(chunk))
        rows = (StudyRecordRead.model_validate(r).model_dump(mode="json") for r in chunk)
        yield csvsafe.lines([row[name] for name in EXPORT_FIELDS] for row in rows)


async def export_jsonl(
    *,
    owner_id: uuid.UUID | None,
    filters: RecordFilters = NO_FILTERS,
    order_by: OrderBy = DEFAULT_ORDER_BY,
    on_chunk: Callable[[int], None] | None = None,
) -> AsyncIterator[str]:
    """One JSON record per line, one chunk of lines at a time, in the list's order."""
    async for chunk in iter_chunks(owner_id=owner_id, filters=filters, order_by=order_by):
        if on_chunk is not None:
            on_chunk(len(chunk))
        yield "".join(
            StudyRecordRead.model_validate(record).model_dump_json() + "\n" for record in chunk
        )


EXPORTERS = {"csv": export_csv, "jsonl": export_jsonl}
"""The export generators by format: the streamed download and export jobs both use them."""
