"""Study records one at a time and as a query: who sees which, the filters, and the writes
that keep the counts in app/study/tally.py exact.

Every function is scoped by `owner_id`: the records of that user, or all records when it
is None (superusers and the admin CLI). Nothing here knows about HTTP.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from app.auth.errors import Unauthorized
from app.study import pg_writes, tally
from app.study.conditions import subject_is, title_contains
from app.study.errors import StudyRecordNotFound
from app.study.models import StudyRecord
from app.study.schemas import (
    DEFAULT_ORDER_BY,
    OrderBy,
    StudyRecordCreate,
    StudyRecordRead,
    StudyRecordUpdate,
)

# The read model's fields, which are also the table's own column names: what a row holds.
ROW_FIELDS = tuple(StudyRecordRead.model_fields)


@dataclass(frozen=True, slots=True)
class RecordFilters:
    """The list and export filters; None means "not filtered by this"."""

    subject: str | None = None
    studied_from: date | None = None
    studied_to: date | None = None
    q: str | None = None


NO_FILTERS = RecordFilters()


def scoped(*, owner_id: uuid.UUID | None) -> QuerySet[StudyRecord]:
    """The records `owner_id` may see: its own, or all of them for None."""
    selection = StudyRecord.all()
    return selection if owner_id is None else selection.filter(owner_id=owner_id)


def filtered(
    *, owner_id: uuid.UUID | None, filters: RecordFilters = NO_FILTERS
) -> QuerySet[StudyRecord]:
    """The records `owner_id` may see that match `filters`, in no particular order."""
    selection = scoped(owner_id=owner_id)
    if filters.subject is not None:
        selection = selection.filter(subject_is(filters.subject))
    if filters.studied_from is not None:
        selection = selection.filter(studied_on__gte=filters.studied_from)
    if filters.studied_to is not None:
        selection = selection.filter(studied_on__lte=filters.studied_to)
    if filters.q:
        selection = selection.filter(title_contains(filters.q))
    return selection


async def find(*, record_id: int, owner_id: uuid.UUID | None) -> StudyRecord | None:
    """The record, or None when `owner_id` has no such record."""
    return await scoped(owner_id=owner_id).filter(id=record_id).first()


async def get(*, record_id: int, owner_id: uuid.UUID | None) -> StudyRecord:
    """The record, or StudyRecordNotFound."""
    record = await find(record_id=record_id, owner_id=owner_id)
    if record is None:
        raise StudyRecordNotFound()
    return record


def query(
    *,
    owner_id: uuid.UUID | None,
    filters: RecordFilters = NO_FILTERS,
    order_by: OrderBy = DEFAULT_ORDER_BY,
) -> QuerySet[StudyRecord]:
    """The filtered, ordered query; the caller pages it. `id` breaks ties so pages are stable."""
    tie_breaker = "-id" if order_by.startswith("-") else "id"
    return filtered(owner_id=owner_id, filters=filters).order_by(order_by, tie_breaker)


async def total(*, owner_id: uuid.UUID | None, filters: RecordFilters = NO_FILTERS) -> int:
    """How many records the query has: the kept count when unfiltered, else a count over
    the owner's index."""
    if filters == NO_FILTERS:
        if owner_id is None:
            return await tally.all_records()
        return await tally.owner_records(owner_id)
    return await filtered(owner_id=owner_id, filters=filters).count()


def _count(delta: tally.Delta, record: StudyRecord, *, sign: int = 1) -> None:
    delta.add(
        studied_on=record.studied_on, subject=record.subject, minutes=record.minutes, sign=sign
    )


async def create(*, owner_id: uuid.UUID, record_in: StudyRecordCreate) -> StudyRecord:
    """Stores the record and counts it, in one transaction (on PostgreSQL usually one
    statement: app/study/pg_writes.py). An owner whose account went meanwhile (the only
    foreign key a record has) is the revoked login it now is: 401, not a 500."""
    try:
        return await _create(owner_id=owner_id, record_in=record_in)
    except IntegrityError as exc:
        raise Unauthorized("revoked") from exc


async def create_read(*, owner_id: uuid.UUID, record_in: StudyRecordCreate) -> StudyRecordRead:
    """`create`, answered as the read model, validated once: on PostgreSQL from the
    statement's row itself, with no model instance in between."""
    try:
        conn = StudyRecord._meta.db  # pylint: disable=protected-access  # as in _create
        if conn.capabilities.dialect == "postgres":
            row = await pg_writes.create_row(conn, owner_id, record_in.model_dump())
            return StudyRecordRead.model_validate(dict(row))
        return StudyRecordRead.model_validate(await _create(owner_id=owner_id, record_in=record_in))
    except IntegrityError as exc:
        raise Unauthorized("revoked") from exc


async def _create(*, owner_id: uuid.UUID, record_in: StudyRecordCreate) -> StudyRecord:
    conn = StudyRecord._meta.db  # pylint: disable=protected-access  # Tortoise's public metadata
    if conn.capabilities.dialect == "postgres":
        return await pg_writes.create(conn, owner_id, record_in.model_dump())
    async with in_transaction() as conn:
        record = await StudyRecord.create(
            owner_id=owner_id, **record_in.model_dump(), using_db=conn
        )
        delta = tally.Delta(owner_id)
        _count(delta, record)
        await delta.apply(conn)
    return record


async def create_many(records: Iterable[StudyRecord], *, batch_size: int = 1_000) -> int:
    """Bulk insert (demo data, imports) with the counts of every owner kept, in one
    transaction; how many were stored."""
    records = list(records)
    async with in_transaction() as conn:
        await StudyRecord.bulk_create(records, batch_size=batch_size, using_db=conn)
        await tally.apply_together(
            conn, tally.deltas((r.owner_id, r.studied_on, r.subject, r.minutes) for r in records)
        )
    return len(records)


async def _locked(record_id: int) -> StudyRecord:
    """The record's row as it is now, locked until the transaction ends (its counted day,
    subject and minutes cannot change under us)."""
    record = await StudyRecord.filter(id=record_id).select_for_update().first()
    if record is None:
        raise StudyRecordNotFound()  # deleted since it was loaded
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
        if conn.capabilities.dialect == "postgres":
            return await pg_writes.update(conn, record, changes)
        current = await _locked(record.id)
        delta = tally.Delta(current.owner_id)
        _count(delta, current, sign=-1)
        current.update_from_dict(changes)
        # Only the changed columns: a concurrent PATCH of another field is not overwritten.
        await current.save(update_fields=[*changes, "updated_at"], using_db=conn)
        _count(delta, current)
        await delta.apply(conn)
    return current


async def delete(*, record: StudyRecord) -> StudyRecord:
    """Deletes the record and returns it as it was; StudyRecordNotFound when another
    request deleted it first (it is counted out once)."""
    async with in_transaction() as conn:
        if conn.capabilities.dialect == "postgres":
            return await pg_writes.delete(conn, record)
        current = await _locked(record.id)
        await StudyRecord.filter(id=current.id).using_db(conn).delete()
        delta = tally.Delta(current.owner_id)
        _count(delta, current, sign=-1)
        await delta.apply(conn)
    return current


async def delete_owner_records(*, owner_id: uuid.UUID) -> None:
    """Call inside the transaction that deletes the account, with its row locked: its
    records go, then leave the total (its count and day rows go by cascade). The records
    first, as every write locks a record before the count: a delete or an edit of one
    meanwhile finishes first instead of waiting for the count this holds."""
    await StudyRecord.filter(owner_id=owner_id).delete()
    await tally.delete_owner_records(StudyRecord._meta.db, owner_id)
