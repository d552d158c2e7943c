"""Export files: the job that writes one, and the upkeep that removes expired ones.

The file holds the very bytes `GET /study-records/export` streams for the same filters: it
is written from the same generators. A worker writes it to a hidden temporary file in
EXPORT_DIR and renames it into place, so the visible file is always complete. Each try
takes the job over with a fresh `attempt` token; only the try holding the token may mark
it done or failed, so a job taken over from a killed worker ends in one row and one file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from celery.exceptions import SoftTimeLimitExceeded
from tortoise.expressions import F

from app.auth.models import User
from app.study import export_storage
from app.study.formats import EXPORTERS
from app.study.models import ACTIVE_EXPORT_STATUSES, ExportJob, ExportStatus
from app.study.records import RecordFilters
from app.study.schemas import DEFAULT_ORDER_BY, OrderBy
from settings import Settings

logger = logging.getLogger(__name__)

TEMP_SUFFIX = ".part"
MAX_ERROR_LENGTH = 200
MAX_ATTEMPTS = 3
# A failed job stays listed this long (for its `error`), then the cleanup removes it.
FAILED_KEPT_HOURS = 24
NOT_ALLOWED_ERROR = "no longer allowed"
STORAGE_FULL_ERROR = "export storage full"


def now() -> datetime:
    return datetime.now(UTC)


def filters_to_json(filters: RecordFilters, order_by: OrderBy) -> dict[str, Any]:
    return {
        "order_by": order_by,
        "subject": filters.subject,
        "studied_from": filters.studied_from.isoformat() if filters.studied_from else None,
        "studied_to": filters.studied_to.isoformat() if filters.studied_to else None,
        "q": filters.q,
    }


def filters_from_json(data: dict[str, Any]) -> RecordFilters:
    def day(value: str | None) -> date | None:
        return date.fromisoformat(value) if value else None

    return RecordFilters(
        subject=data.get("subject"),
        studied_from=day(data.get("studied_from")),
        studied_to=day(data.get("studied_to")),
        q=data.get("q"),
    )


def file_path(job: ExportJob, export_dir: Path) -> Path:
    return export_dir / job.file_name


async def _claim(job_id: uuid.UUID) -> tuple[ExportJob, str] | None:
    """Takes the job for this try; None when it is finished or gone (nothing to do)."""
    attempt = uuid.uuid4().hex
    taken = await ExportJob.filter(id=job_id, status__in=ACTIVE_EXPORT_STATUSES).update(
        status=ExportStatus.RUNNING,
        attempt=attempt,
        attempts=F("attempts") + 1,
        started_at=now(),
    )
    if not taken:
        return None
    job = await ExportJob.get_or_none(id=job_id, attempt=attempt)
    if job is None:
        return None
    if job.attempts > MAX_ATTEMPTS:
        # Every try so far died (killed, out of memory): stop handing it round.
        await finish(job, attempt, status=ExportStatus.FAILED, error="worker lost too often")
        return None
    return job, attempt


async def _write(lines: AsyncIterator[str], temp: Path) -> int:
    """Writes the text as UTF-8 (what StreamingResponse sends) and syncs it; bytes written."""
    size = 0
    out: BinaryIO = await asyncio.to_thread(export_storage.create_private, temp)
    try:
        async for text in lines:
            data = text.encode("utf-8")
            size += len(data)
            await asyncio.to_thread(out.write, data)
        await asyncio.to_thread(out.flush)
        await asyncio.to_thread(os.fsync, out.fileno())
    finally:
        await asyncio.to_thread(out.close)
    return size


def _remove_temp_files(export_dir: Path, job_id: uuid.UUID) -> None:
    """A killed try's half-written file: it never becomes visible, and now it goes."""
    for stale in export_dir.glob(f".{job_id}.*{TEMP_SUFFIX}"):
        stale.unlink(missing_ok=True)


async def write_file(*, job_id: uuid.UUID, settings: Settings) -> None:
    """Writes a queued job's file and marks it done; idempotent (a done job is left alone)."""
    claimed = await _claim(job_id)
    if claimed is None:
        logger.info("export job %s: already finished or gone", job_id)
        return
    job, attempt = claimed
    logger.info("export job %s: try %d started", job.id, job.attempts)
    export_dir = Path(settings.EXPORT_DIR)
    refusal = await _refusal(job, settings)
    if refusal is not None:
        await finish(job, attempt, status=ExportStatus.FAILED, error=refusal)
        return
    temp = export_dir / f".{job.id}.{attempt}{TEMP_SUFFIX}"
    rows = 0

    def count(n: int) -> None:
        nonlocal rows
        rows += n

    exporter = EXPORTERS[job.format]
    lines = exporter(
        owner_id=None if job.all_owners else job.owner_id,  # type: ignore[attr-defined]
        filters=filters_from_json(job.filters),
        order_by=job.filters.get("order_by") or DEFAULT_ORDER_BY,
        on_chunk=count,
    )
    try:
        await asyncio.to_thread(export_storage.prepare_dir, export_dir)
        await asyncio.to_thread(_remove_temp_files, export_dir, job.id)
        size = await _write(lines, temp)
        await asyncio.to_thread(os.replace, temp, file_path(job, export_dir))
    except (Exception, SoftTimeLimitExceeded) as exc:
        with contextlib.suppress(OSError):
            await asyncio.to_thread(temp.unlink, missing_ok=True)
        await finish(job, attempt, status=ExportStatus.FAILED, error=_short_error(exc))
        raise
    finished = now()
    recorded = await finish(
        job,
        attempt,
        status=ExportStatus.DONE,
        rows=rows,
        bytes=size,
        expires_at=finished + timedelta(hours=settings.EXPORT_TTL_HOURS),
    )
    if not recorded and not await ExportJob.exists(id=job.id):
        # The owner was deleted while the file was written: the file goes with the row.
        await asyncio.to_thread(export_storage.remove_job_files, export_dir, [job.id])
        return
    logger.info("export job %s done: %d rows, %d bytes", job.id, rows, size)
    if not recorded:
        return
    try:
        await export_storage.keep_within_limits(
            owner_id=job.owner_id,  # type: ignore[attr-defined]
            newest_id=job.id,
            max_files=settings.EXPORT_MAX_FILES_PER_USER,
            max_bytes=settings.EXPORT_MAX_BYTES_PER_USER,
            export_dir=export_dir,
        )
    except Exception:  # pylint: disable=broad-exception-caught  # the job itself is done
        # The next finished job of the owner trims again; the cleanup takes the rest.
        logger.exception("export job %s: the owner's older files could not be trimmed", job.id)


async def _refusal(job: ExportJob, settings: Settings) -> str | None:
    """Why the job may not run now: its owner lost the right to everyone's records since
    asking, or the disk is below the free-space floor."""
    if job.all_owners and not await User.exists(
        id=job.owner_id,  # type: ignore[attr-defined]
        is_superuser=True,
        is_active=True,
    ):
        return NOT_ALLOWED_ERROR
    floor = settings.EXPORT_MIN_FREE_BYTES
    if await asyncio.to_thread(export_storage.storage_full, Path(settings.EXPORT_DIR), floor):
        return STORAGE_FULL_ERROR
    return None


def _short_error(exc: BaseException) -> str:
    """What the owner reads (the log has the details; paths and SQL stay there)."""
    if isinstance(exc, SoftTimeLimitExceeded):
        return "time limit exceeded"
    if isinstance(exc, OSError):
        return "the export file could not be written"
    return "the export failed"


async def finish(job: ExportJob, attempt: str, **changes: Any) -> bool:
    """Records how a try ended, if that try still holds the job (then True)."""
    if "error" in changes:
        changes["error"] = f"{changes['error']}"[:MAX_ERROR_LENGTH] or "failed"
        changes["expires_at"] = now() + timedelta(hours=FAILED_KEPT_HOURS)
    # Only the try that holds the job records its end; a superseded try changes nothing.
    updated = await ExportJob.filter(id=job.id, attempt=attempt).update(
        finished_at=now(), **changes
    )
    if not updated:
        logger.info("export job %s: taken over or gone; this try records nothing", job.id)
    return bool(updated)


async def remove_expired(*, settings: Settings) -> int:
    """Deletes the files and rows of jobs past `expires_at`, then the files left without a
    row past EXPORT_ORPHAN_GRACE_SECONDS; how many jobs went."""
    export_dir = Path(settings.EXPORT_DIR)
    removed = 0
    while True:
        expired = await ExportJob.filter(expires_at__lte=now()).limit(500)
        if not expired:
            orphans = await export_storage.remove_orphans(
                export_dir=export_dir, grace_seconds=settings.EXPORT_ORPHAN_GRACE_SECONDS
            )
            if orphans:
                logger.info("export cleanup: %d files without a job removed", orphans)
            return removed
        for job in expired:
            await asyncio.to_thread(file_path(job, export_dir).unlink, missing_ok=True)
        await ExportJob.filter(id__in=[job.id for job in expired]).delete()
        removed += len(expired)
