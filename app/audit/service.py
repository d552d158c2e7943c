"""Reading, exporting and purging the audit trail; the admin CLI calls `purge` and
`iter_chunks` too."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tortoise.queryset import QuerySet

from app.audit import day_counts, partitions, value_counts
from app.audit.errors import AuditLogNotFound, PageTooDeep
from app.audit.models import AuditLog
from app.audit.partitions import Partition, midnight, utc_today
from app.audit.schemas import AuditLogFilters
from app.platform.breaker import StoreBreaker
from app.platform.db import capped_count
from app.platform.dialect import starts_with
from app.platform.store import STORE_ERRORS, KeyValueStore

logger = logging.getLogger(__name__)

PURGE_BATCH_SIZE = 1000
# A page's total counts at most this many matches, so no page costs a count of the table.
TOTAL_CAP = 10_000
EXPORT_CHUNK_SIZE = 1000
# A deleted user's mark in the shared store, for every worker's writer. It covers the
# deletion's transaction (clearing a long trail included) and a writer's check that read the
# user table just before the commit: once the user's row is gone, the table is what tells
# the writers. A failed deletion removes its mark; this only bounds one whose removal failed
# too (the store down), during which that user's new rows lose its id.
DELETED_USER_MARK_SECONDS = 600
# After the store failed, writers check the user table only, for this long (an outage then
# costs a writer one failed round trip per period instead of one per batch).
RETRY_STORE_AFTER_SECONDS = 5.0

ExistingUsers = Callable[[set[uuid.UUID]], Awaitable[set[uuid.UUID]]]


def deleted_user_key(user_id: uuid.UUID) -> str:
    return f"audit:forgotten-user:{user_id}"


def query(*, filters: AuditLogFilters | None = None) -> QuerySet[AuditLog]:
    """Entries matching the filters, newest first (for pagination)."""
    return matching(filters).order_by("-created_at", "-id")


def matching(filters: AuditLogFilters | None) -> QuerySet[AuditLog]:
    selection = AuditLog.all()
    if filters is not None:
        if filters.user_id is not None:
            selection = selection.filter(user_id=filters.user_id)
        if filters.method:
            selection = selection.filter(method=filters.method.upper())
        if filters.status_code is not None:
            selection = selection.filter(status_code=filters.status_code)
        if filters.path_prefix:
            selection = selection.filter(starts_with("path", filters.path_prefix))
        if filters.route:
            selection = selection.filter(route=filters.route)
        if filters.since is not None:
            selection = selection.filter(created_at__gte=filters.since)
        if filters.until is not None:
            selection = selection.filter(created_at__lt=filters.until)
    return selection


def narrows(filters: AuditLogFilters) -> bool:
    """Whether any filter is given (`matching` applies exactly these)."""
    return any(
        (
            filters.user_id is not None,
            filters.method,
            filters.status_code is not None,
            filters.path_prefix,
            filters.route,
            filters.since is not None,
            filters.until is not None,
        )
    )


async def page(*, filters: AuditLogFilters, number: int, size: int) -> tuple[list[AuditLog], int]:
    """Page `number` (from 1) of the matches, and how many match up to TOTAL_CAP + 1
    (`total`). PageTooDeep for a page that starts past the TOTAL_CAP-th match."""
    offset = (number - 1) * size
    if offset >= TOTAL_CAP:
        raise PageTooDeep(number, TOTAL_CAP)
    items = await query(filters=filters).offset(offset).limit(size)
    if number == 1 and len(items) < size:
        return items, len(items)  # the whole result is on this page: nothing to count
    return items, await total(filters)


async def total(filters: AuditLogFilters) -> int:
    """How many entries match, up to TOTAL_CAP + 1: a count that reads at most that many
    rows however large the trail is; without a filter the sum of the kept per-day counts
    (app/audit/day_counts.py); on MySQL, with one equality filter alone, the sum of the kept
    per-value counts (app/audit/value_counts.py)."""
    if not narrows(filters):
        return min(await day_counts.total(), TOTAL_CAP + 1)
    if (kept := await value_counts.page_total(filters)) is not None:
        return min(max(kept, 0), TOTAL_CAP + 1)
    return await capped_count(matching(filters), TOTAL_CAP + 1)


async def iter_chunks(
    *, filters: AuditLogFilters | None = None, chunk_size: int = EXPORT_CHUNK_SIZE
) -> AsyncIterator[tuple[AuditLog, ...]]:
    """Entries matching the filters in id order, `chunk_size` at a time.

    Keyset pagination (`id > last`), never OFFSET: each query is as cheap as the first and
    memory holds one chunk however large the trail is.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    last_id = 0
    while True:
        chunk = tuple(
            await matching(filters).filter(id__gt=last_id).order_by("id").limit(chunk_size)
        )
        if chunk:
            yield chunk
        if len(chunk) < chunk_size:
            return
        last_id = chunk[-1].id


async def find(*, audit_log_id: int) -> AuditLog | None:
    return await AuditLog.get_or_none(id=audit_log_id)


async def get(*, audit_log_id: int) -> AuditLog:
    """The entry; AuditLogNotFound if there is none."""
    entry = await find(audit_log_id=audit_log_id)
    if entry is None:
        raise AuditLogNotFound()
    return entry


@dataclass(frozen=True)
class PurgeReport:
    """What a purge removed (or, in a dry run, would remove): whole partitions, and rows
    deleted in batches where no whole partition could go (SQLite, or a partition that
    spans the cutoff such as the one the migration made of the table as it was)."""

    cutoff: datetime
    partitions: list[Partition]
    rows_deleted: int

    @property
    def rows(self) -> int | None:
        """Rows removed in all: the partitions' by the database's estimate (None when one
        has none yet)."""
        if any(p.rows is None for p in self.partitions):
            return None
        return self.rows_deleted + sum(p.rows or 0 for p in self.partitions)


def purge_cutoff(older_than_days: int, *, today: date | None = None) -> datetime:
    """The start of the oldest UTC day kept: today and the `older_than_days` whole days
    before it stay."""
    return midnight((today or utc_today()) - timedelta(days=older_than_days))


async def purge(
    *,
    older_than_days: int,
    dry_run: bool = False,
    batch_size: int = PURGE_BATCH_SIZE,
    today: date | None = None,
) -> PurgeReport:
    """Removes the entries of days before today - `older_than_days` (UTC): whole day
    partitions where the table has them, the rest in batches of `batch_size` rows (ids read
    first, as MySQL cannot LIMIT a DELETE's subquery), each its own short transaction."""
    if older_than_days < 0:
        raise ValueError("older_than_days must be 0 or more")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    cutoff = purge_cutoff(older_than_days, today=today)
    retired = await partitions.drop_before(cutoff, dry_run=dry_run)
    older = AuditLog.filter(created_at__lt=cutoff)
    if dry_run:
        if retired:  # their rows are counted by the estimate
            older = older.filter(created_at__gte=max(p.end for p in retired if p.end))
        return PurgeReport(cutoff, retired, await older.count())
    deleted = 0
    while True:
        ids = await older.order_by("id").limit(batch_size).values_list("id", flat=True)
        if not ids:
            break
        deleted += await day_counts.delete_entries(ids, created_at__lt=cutoff)
    # The triggers counted the deleted rows out; the dropped days' counts go here (on
    # PostgreSQL they went with each detach already).
    await day_counts.forget_before(cutoff.date())
    await value_counts.forget_before(cutoff.date())
    return PurgeReport(cutoff, retired, deleted)


async def purge_expired(*, retention_days: int) -> PurgeReport | None:
    """The scheduled purge: days older than `retention_days` (0 keeps everything)."""
    if retention_days == 0:
        return None
    report = await purge(older_than_days=retention_days)
    logger.info(
        "audit purge: %d partitions and %d rows before %s removed",
        len(report.partitions),
        report.rows_deleted,
        report.cutoff.date().isoformat(),
    )
    return report


# --- a deleted user leaves no id in the trail ------------------------------------------------


async def mark_deleted_user(*, user_id: uuid.UUID, store: KeyValueStore | None) -> None:
    """Marks a user being deleted, so that no worker's writer stores its id from now on;
    call it before the transaction that calls `detach_user`, and `unmark_deleted_user` if that
    transaction fails."""
    if store is None:
        return
    try:
        await store.set(deleted_user_key(user_id), b"1", ttl_seconds=DELETED_USER_MARK_SECONDS)
    except STORE_ERRORS:
        logger.warning(
            "audit: deleted user not marked (the store did not answer); "
            "writers fall back to the user table"
        )


async def unmark_deleted_user(*, user_id: uuid.UUID, store: KeyValueStore | None) -> None:
    """Removes the mark of `mark_deleted_user` after a deletion that failed: the account stays,
    and so does its id in the rows it makes from now on."""
    if store is None:
        return
    try:
        await store.delete(deleted_user_key(user_id))
    except STORE_ERRORS:
        logger.warning(
            "audit: the mark of a failed deletion was not removed (the store did not answer); "
            "the user's audit rows lose its id until it expires (%d s)",
            DELETED_USER_MARK_SECONDS,
        )


async def detach_user(*, user_id: uuid.UUID) -> int:
    """Clears the user reference of its stored entries; how many."""
    return await AuditLog.filter(user_id=user_id).update(user_id=None)


async def deleted_among(
    user_ids: set[uuid.UUID],
    *,
    store: KeyValueStore | None,
    existing: ExistingUsers,
    breaker: StoreBreaker | None = None,
    marks: bool = True,
) -> set[uuid.UUID]:
    """Which of these users were deleted: no longer in the user table, or (`marks`) marked
    by `mark_deleted_user` (a deletion still in its transaction).

    A store that does not answer trips the `breaker`: for RETRY_STORE_AFTER_SECONDS the
    table alone decides, as it does without a shared store (another host's in-process store)
    and with the mark missing because the store was down when the user was deleted. One
    warning per outage.
    """
    gone = user_ids - await existing(user_ids)
    rest = [user_id for user_id in user_ids if user_id not in gone]
    if not (rest and marks and store is not None):
        return gone
    if breaker is not None and not breaker.available():
        return gone
    try:
        found = await store.get_many([deleted_user_key(u) for u in rest])
    except STORE_ERRORS as exc:
        if breaker is None or breaker.trip(RETRY_STORE_AFTER_SECONDS):
            logger.warning(
                "audit: deleted-user marks not read (the store did not answer: %r); "
                "the user table decides, the store is tried again every %.0f s",
                exc,
                RETRY_STORE_AFTER_SECONDS,
            )
        return gone
    if breaker is not None and breaker.recover():
        logger.info("audit: the store answers again; deleted-user marks are read")
    gone.update(u for u, mark in zip(rest, found, strict=True) if mark is not None)
    return gone
