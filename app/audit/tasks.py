"""The audit trail's job: the scheduled purge (app/jobs/schedule.py)."""

from __future__ import annotations

from app.audit import service
from app.jobs.runner import JobContext, job


@job()
async def purge_expired_audit(ctx: JobContext) -> int:
    """Entries older than AUDIT_RETENTION_DAYS go (0 keeps everything)."""
    return await service.purge_expired(retention_days=ctx.settings.AUDIT_RETENTION_DAYS)
