"""The study records' jobs: writing an export file, and the upkeep that removes expired
ones (app/jobs/schedule.py). Neither retries: the job row keeps a try idempotent, and a
failed export says so to its owner."""

from __future__ import annotations

import uuid

from app.jobs.runner import JobContext, job
from app.study import export_files


@job()
async def run_export(ctx: JobContext, *, job_id: str) -> None:
    await export_files.write_file(job_id=uuid.UUID(job_id), settings=ctx.settings)


@job()
async def remove_expired_exports(ctx: JobContext) -> int:
    return await export_files.remove_expired(settings=ctx.settings)
