"""The audit trail's kept per-day counts (`audit_day_count`), which migration 11's triggers
keep in the database: every row inserted into audit_log adds one to its UTC day's count and
every row deleted takes one away, in the same statement's transaction. On MySQL the audit
writer's batches count their days themselves, in their own transaction (app/audit/bulk.py,
migration 13). The unfiltered list's
total is their sum, one row per day kept (about a hundred rows), whatever the trail's size.

A dropped partition fires no trigger: the purge forgets the counts of the days it retires
(`forget_before`; on PostgreSQL in the detach's own transaction too).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from app.audit.models import AuditDayCount, AuditLog

TOTAL = "SELECT COALESCE(SUM(entries), 0) AS n FROM audit_day_count"


async def total() -> int:
    """Every entry of the trail, from the kept counts: one statement, so the days' counts
    come from one snapshot (each batch's rows and its count commit together)."""
    _, rows = await Tortoise.get_connection("default").execute_query(TOTAL)
    return int(rows[0]["n"])


async def forget_before(day: date) -> int:
    """Deletes the counts of the days before `day` (their rows are gone); how many."""
    return await AuditDayCount.filter(day__lt=day).delete()


async def delete_entries(ids: list[int], **condition: Any) -> int:
    """Deletes these entries (those still meeting `condition`); how many went.

    The count is the DELETE's own: SQLite's driver reports every change the statement made,
    the triggers' updates of the day counts included, so there the connection's `changes()`
    (the statement's own rows only) is read in the same transaction instead.
    """
    async with in_transaction("default") as conn:
        deleted = await AuditLog.filter(id__in=ids, **condition).using_db(conn).delete()
        if conn.schema_generator.DIALECT == "sqlite":
            _, rows = await conn.execute_query("SELECT changes() AS n")
            deleted = int(rows[0]["n"])
    return deleted
