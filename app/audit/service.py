"""Reading, exporting and purging the audit trail; the admin CLI calls `purge` and
`iter_chunks` too."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from fastapi import HTTPException, status
from tortoise.queryset import QuerySet

from app.audit.models import AuditLog
from app.audit.schemas import AuditLogFilters
from app.core.jobs import JobContext

logger = logging.getLogger(__name__)

PURGE_BATCH_SIZE = 1000
EXPORT_CHUNK_SIZE = 1000


def list(*, filters: AuditLogFilters | None = None) -> QuerySet[AuditLog]:  # pylint: disable=redefined-builtin  # STYLE.md's verb
    """Entries matching the filters, newest first (for pagination)."""
    return _matching(filters).order_by("-created_at", "-id")


def _matching(filters: AuditLogFilters | None) -> QuerySet[AuditLog]:
    query = AuditLog.all()
    if filters is not None:
        if filters.user_id is not None:
            query = query.filter(user_id=filters.user_id)
        if filters.method:
            query = query.filter(method=filters.method.upper())
        if filters.status_code is not None:
            query = query.filter(status_code=filters.status_code)
        if filters.path_prefix:
            query = query.filter(path__startswith=filters.path_prefix)
        if filters.since is not None:
            query = query.filter(created_at__gte=filters.since)
        if filters.until is not None:
            query = query.filter(created_at__lt=filters.until)
    return query


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
            await _matching(filters).filter(id__gt=last_id).order_by("id").limit(chunk_size)
        )
        if chunk:
            yield chunk
        if len(chunk) < chunk_size:
            return
        last_id = chunk[-1].id


async def get(*, audit_log_id: int) -> AuditLog | None:
    return await AuditLog.get_or_none(id=audit_log_id)


async def get_or_404(*, audit_log_id: int) -> AuditLog:
    entry = await get(audit_log_id=audit_log_id)
    if entry is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Not Found")
    return entry


async def purge(
    *, older_than_days: int, dry_run: bool = False, batch_size: int = PURGE_BATCH_SIZE
) -> int:
    """Deletes entries older than the given number of days, in batches; how many (would) go.

    Batches keep each delete's locks and transaction small on a large table; the ids are
    read first because MySQL cannot LIMIT a subquery of a DELETE.
    """
    if older_than_days < 0:
        raise ValueError("older_than_days must be 0 or more")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    older = AuditLog.filter(created_at__lt=cutoff)
    if dry_run:
        return await older.count()
    deleted = 0
    while True:
        ids = await older.order_by("id").limit(batch_size).values_list("id", flat=True)
        if not ids:
            return deleted
        deleted += await AuditLog.filter(id__in=ids).delete()


async def purge_expired(ctx: JobContext) -> int:
    """The scheduled purge: entries older than AUDIT_RETENTION_DAYS (0 keeps everything)."""
    days = ctx.settings.AUDIT_RETENTION_DAYS
    if days == 0:
        return 0
    deleted = await purge(older_than_days=days)
    logger.info("audit purge: %d entries older than %d days deleted", deleted, days)
    return deleted
