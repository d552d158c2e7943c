"""The audit trail's jobs (app/jobs/schedule.py): the daily purge and the hourly upkeep of
the day partitions."""

from __future__ import annotations

from app.audit import partitions, service
from app.jobs.runner import JobContext, job


@job()
async def purge_expired_audit(ctx: JobContext) -> int:
    """Days older than AUDIT_RETENTION_DAYS go (0 keeps everything); the partitions and
    rows removed."""
    report = await service.purge_expired(retention_days=ctx.settings.AUDIT_RETENTION_DAYS)
    return 0 if report is None else len(report.partitions) + report.rows_deleted


@job()
async def ensure_audit_partitions(ctx: JobContext) -> int:
    """Partitions for every day of the window (AUDIT_RETENTION_DAYS back, or today when it
    keeps everything, to AUDIT_PARTITIONS_AHEAD_DAYS ahead), the parent analyzed; how many
    were made."""
    made = await partitions.ensure(
        back_days=ctx.settings.AUDIT_RETENTION_DAYS,
        ahead_days=ctx.settings.AUDIT_PARTITIONS_AHEAD_DAYS,
        analyze=True,
    )
    return len(made)
