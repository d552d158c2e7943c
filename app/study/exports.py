"""Export jobs as the API sees them: POST/GET /study-records/exports and the download.
The worker's side, writing and removing the files, is app/study/export_files.py."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from tortoise.functions import Count
from tortoise.queryset import QuerySet

from app.jobs.runner import Jobs, JobsUnavailable
from app.study import service, tasks
from app.study.export_files import file_path, filters_to_json, now
from app.study.models import ACTIVE_EXPORT_STATUSES, ExportJob, ExportStatus

logger = logging.getLogger(__name__)


class ExportJobNotFound(LookupError):
    """No such job for this owner: it does not exist or belongs to someone else."""


class TooManyExports(Exception):
    """The owner already has EXPORT_MAX_ACTIVE_PER_USER jobs queued or running."""


class ExportNotReady(Exception):
    """The job has not finished (or failed): there is no file yet."""


class ExportExpired(Exception):
    """The job's file was kept until `expires_at`, which has passed."""


def list(*, owner_id: uuid.UUID) -> QuerySet[ExportJob]:  # pylint: disable=redefined-builtin  # STYLE.md's verb
    """The owner's jobs, newest first."""
    return ExportJob.filter(owner_id=owner_id).order_by("-created_at", "-id")


async def get_or_404(*, job_id: uuid.UUID, owner_id: uuid.UUID) -> ExportJob:
    """The owner's job, or ExportJobNotFound (a superuser too sees only its own jobs)."""
    job = await ExportJob.filter(id=job_id, owner_id=owner_id).first()
    if job is None:
        raise ExportJobNotFound(job_id)
    return job


async def create(
    *,
    owner_id: uuid.UUID,
    all_owners: bool,
    export_format: str,
    filters: service.RecordFilters,
    order_by: service.OrderBy = service.DEFAULT_ORDER_BY,
    jobs: Jobs,
    max_active: int,
) -> ExportJob:
    """A queued job, handed to the workers; TooManyExports past the owner's limit."""
    job = await ExportJob.create(
        owner_id=owner_id,
        format=export_format,
        filters=filters_to_json(filters, order_by),
        all_owners=all_owners,
    )
    # Counted after the insert: two requests at once cannot both slip under the limit
    # (at worst both are refused), and the count reads the (owner_id, status) index.
    active = await ExportJob.filter(owner_id=owner_id, status__in=ACTIVE_EXPORT_STATUSES).count()
    if active > max_active:
        await job.delete()
        raise TooManyExports(owner_id)
    try:
        await jobs.submit(tasks.run_export, job_id=str(job.id))
    except JobsUnavailable:
        await ExportJob.filter(id=job.id).update(
            status=ExportStatus.FAILED, error="could not be queued", finished_at=now()
        )
        raise
    return job


def download_path(job: ExportJob, export_dir: Path) -> Path:
    """The finished file; ExportNotReady before `done`, ExportExpired after `expires_at`."""
    if job.status != ExportStatus.DONE:
        raise ExportNotReady(job.id)
    path = file_path(job, export_dir)
    if (job.expires_at is not None and job.expires_at <= now()) or not path.is_file():
        raise ExportExpired(job.id)
    return path


async def counts_by_status() -> dict[str, int]:
    """Export jobs per status (every status present, zeros included)."""
    rows = await ExportJob.annotate(n=Count("id")).group_by("status").values("status", "n")
    counts = {status.value: 0 for status in ExportStatus}
    for row in rows:
        counts[str(row["status"])] = int(row["n"])
    return counts
