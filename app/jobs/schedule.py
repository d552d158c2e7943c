"""What `celery -A backend.jobs beat` sends, and how often: the upkeep jobs, by task name
(a test checks that each names a job the worker registers)."""

from __future__ import annotations

from typing import Any

from settings import Settings

PURGE_AUDIT = "app.audit.tasks.purge_expired_audit"
ENSURE_AUDIT_PARTITIONS = "app.audit.tasks.ensure_audit_partitions"
REMOVE_EXPIRED_EXPORTS = "app.study.tasks.remove_expired_exports"


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "audit-purge": {"task": PURGE_AUDIT, "schedule": settings.AUDIT_PURGE_EVERY_SECONDS},
        "audit-partitions": {
            "task": ENSURE_AUDIT_PARTITIONS,
            "schedule": settings.AUDIT_PARTITIONS_EVERY_SECONDS,
        },
        "remove-expired-exports": {
            "task": REMOVE_EXPIRED_EXPORTS,
            "schedule": settings.EXPORT_CLEANUP_EVERY_SECONDS,
        },
    }
