"""MySQL/MariaDB: the audit trail's kept counts per UTC day and value of each equality filter
(`audit_value_count`, migration 14).

A page filtered by one of `method`, `status_code`, `route` or `user_id` alone takes its
total from these, at most one row per day kept, instead of reading up to 10,001 entries of
the filter's index: MariaDB reads an entry in 0.5-1.2 us (5-12 ms a capped count, against
about 2 ms on PostgreSQL, which keeps reading the index). Any other filter, or two of them,
or a time window, counts the matches as on every database.

The audit writer adds its batch's counts in the batch's own transaction (app/audit/bulk.py);
migration 14's row triggers count every other insert (an older writer's batches too, which
do not say they count these), every delete and every change of a counted column (a deleted
user's id cleared); the purge forgets the days whose partitions it dropped (`forget_before`).
A value is stored as audit_log stores it (its field's `to_db_value`), in a column of the same
collation, so the count's key compares as the filter's own `=` does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date
from typing import Any

from tortoise import Tortoise

from app.audit.models import AuditLog
from app.audit.schemas import AuditLogFilters

FIELDS = ("method", "status_code", "route", "user_id")

TOTAL = (
    "SELECT COALESCE(SUM(`entries`), 0) AS n FROM `audit_value_count` "
    "WHERE `field` = %s AND `value` = %s"
)
FORGET = "DELETE FROM `audit_value_count` WHERE `day` < %s"


def kept_for(filters: AuditLogFilters) -> tuple[str, str] | None:
    """The field and stored value of the page's one equality filter when nothing else
    narrows it (what `service.matching` would apply), else None."""
    if filters.path_prefix or filters.since is not None or filters.until is not None:
        return None
    given = {
        "user_id": filters.user_id,
        "method": filters.method.upper() if filters.method else None,
        "status_code": filters.status_code,
        "route": filters.route or None,
    }
    named = [(field, value) for field, value in given.items() if value is not None]
    if len(named) != 1:
        return None
    field, value = named[0]
    return field, stored(field, value)


def stored(field: str, value: Any) -> str:
    """`value` as audit_log's `field` stores it, as text (the count's key)."""
    return str(AuditLog._meta.fields_map[field].to_db_value(value, None))  # pylint: disable=protected-access  # Tortoise's public metadata


async def page_total(filters: AuditLogFilters) -> int | None:
    """On MySQL, the entries matching the page's one equality filter, summed over the kept
    days; None where the counts do not answer (another database, other filters)."""
    connection = Tortoise.get_connection("default")
    if connection.schema_generator.DIALECT != "mysql":
        return None
    kept = kept_for(filters)
    if kept is None:
        return None
    _, rows = await connection.execute_query(TOTAL, list(kept))
    return int(rows[0]["n"])


def batch_counts(batch: Iterable[dict[str, Any]]) -> list[tuple[str, str, date, int]]:
    """The batch's entries per field, stored value and UTC day, in one order for every
    writer (the order their rows are locked in); a missing value (no route, no user) is not
    counted."""
    counted: Counter[tuple[str, str, date]] = Counter()
    for entry in batch:
        day = entry["created_at"].astimezone(UTC).date()
        for field in FIELDS:
            value = entry.get(field)
            if value is not None:
                counted[(field, stored(field, value), day)] += 1
    return [(field, value, day, n) for (field, value, day), n in sorted(counted.items())]


async def forget_before(day: date) -> None:
    """Deletes the counts of the days before `day` (their partitions are gone)."""
    connection = Tortoise.get_connection("default")
    if connection.schema_generator.DIALECT == "mysql":
        await connection.execute_query(FORGET, [day])
