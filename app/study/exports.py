"""Export jobs as the API sees them: POST/GET /study-records/exports and the download.
The worker's side, writing and removing the files, is app/study/export_files.py."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

from tortoise.functions import Count
from tortoise.queryset import QuerySet

from app.jobs.runner import Jobs, JobsUnavailable
from app.study import export_storage, tasks
from app.study.errors import (
    ExportExpired,
    ExportForbidden,
    ExportJobNotFound,
    ExportNotReady,
    ExportStorageFull,
    TooManyExports,
)
from app.study.export_files import file_path, filters_to_json, now
from app.study.models import ACTIVE_EXPORT_STATUSES, ExportJob, ExportStatus
from app.study.records import RecordFilters
from app.study.schemas import DEFAULT_ORDER_BY, OrderBy
from settings import Settings

logger = logging.getLogger(__name__)


def query(*, owner_id: uuid.UUID) -> QuerySet[ExportJob]:
    """The owner's jobs, newest first."""
    return ExportJob.filter(owner_id=owner_id).order_by("-created_at", "-id")


async def find(*, job_id: uuid.UUID, owner_id: uuid.UUID) -> ExportJob | None:
    """The owner's job, or None (a superuser too sees only its own jobs)."""
    return await ExportJob.filter(id=job_id, owner_id=owner_id).first()


async def get(*, job_id: uuid.UUID, owner_id: uuid.UUID) -> ExportJob:
    """The owner's job, or ExportJobNotFound."""
    job = await find(job_id=job_id, owner_id=owner_id)
    if job is None:
        raise ExportJobNotFound()
    return job


async def create(
    *,
    owner_id: uuid.UUID,
    all_owners: bool,
    export_format: str,
    filters: RecordFilters,
    order_by: OrderBy = DEFAULT_ORDER_BY,
    jobs: Jobs,
    settings: Settings,
) -> ExportJob:
    """A queued job, handed to the workers; TooManyExports past the owner's limit
    (EXPORT_MAX_ACTIVE_PER_USER), ExportStorageFull below the free-space floor."""
    export_dir, floor = Path(settings.EXPORT_DIR), settings.EXPORT_MIN_FREE_BYTES
    if await asyncio.to_thread(export_storage.storage_full, export_dir, floor):
        logger.warning("export refused: less than %d bytes free in %s", floor, export_dir)
        raise ExportStorageFull()
    job = await ExportJob.create(
        owner_id=owner_id,
        format=export_format,
        filters=filters_to_json(filters, order_by),
        all_owners=all_owners,
    )
    # Counted after the insert: two requests at once cannot both slip under the limit
    # (at worst both are refused), and the count reads the (owner_id, status) index.
    active = await ExportJob.filter(owner_id=owner_id, status__in=ACTIVE_EXPORT_STATUSES).count()
    if active > settings.EXPORT_MAX_ACTIVE_PER_USER:
        await job.delete()
        raise TooManyExports()
    try:
        await jobs.submit(tasks.run_export, job_id=str(job.id))
    except JobsUnavailable:
        await ExportJob.filter(id=job.id).update(
            status=ExportStatus.FAILED, error="could not be queued", finished_at=now()
        )
        raise
    return job


def download_path(job: ExportJob, export_dir: Path, *, sees_all_owners: bool) -> Path:
    """The finished file; ExportForbidden when it holds everyone's records and the caller
    may no longer see them, ExportNotReady before `done`, ExportExpired after `expires_at`."""
    if job.all_owners and not sees_all_owners:
        raise ExportForbidden()
    if job.status != ExportStatus.DONE:
        raise ExportNotReady()
    path = file_path(job, export_dir)
    if (job.expires_at is not None and job.expires_at <= now()) or not path.is_file():
        raise ExportExpired()
    return path


async def counts_by_status() -> dict[str, int]:
    """Export jobs per status (every status present, zeros included)."""
    rows = await ExportJob.annotate(n=Count("id")).group_by("status").values("status", "n")
    counts = {status.value: 0 for status in ExportStatus}
    for row in rows:
        counts[str(row["status"])] = int(row["n"])
    return counts
