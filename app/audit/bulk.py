"""The audit writer's one bulk write per batch, per dialect, with the batch's day counts.

PostgreSQL: COPY (the rows in one binary stream; migration 11's statement trigger counts
the days once per COPY). SQLite: one prepared INSERT run over the rows (its row trigger
counts them, in process). MySQL/MariaDB: the same INSERT, and the batch's days counted by
one upsert in the same transaction, its filters' values by another (app/audit/value_counts.py).
MySQL has row triggers only: migration 11's ran an upsert of the day's count row for every
row (a third of a batch's time in the database); since migration 13 the trigger does nothing
for rows of a session that says it counts them itself (`@studylog_audit_counted`, and
migration 14's `@studylog_audit_values_counted`), which only this module's transaction
does. Anything else that inserts audit rows (the ORM, SQL by hand) is still counted row by
row.
"""

from __future__ import annotations

import functools
from collections import Counter
from datetime import UTC, date
from typing import Any

from tortoise import Tortoise
from tortoise.fields import Field

from app.audit import value_counts
from app.audit.models import AuditLog
from app.platform.dialect import placeholders, quote

AuditEntry = dict[str, Any]

# Migration 13's trigger counts no row's day in a session where the first is set, migration
# 14's none of its values where the second is (a writer from before migration 14 sets only
# the first, and its rows' values are still counted).
_COUNTING = "SET @studylog_audit_counted = 1, @studylog_audit_values_counted = 1"
_NOT_COUNTING = "SET @studylog_audit_counted = NULL, @studylog_audit_values_counted = NULL"


@functools.cache
def insert_statement(dialect: str) -> tuple[str, tuple[tuple[str, Field[Any]], ...]]:
    """INSERT INTO audit_log (…) VALUES (…) in the dialect's quoting and placeholders."""
    meta = AuditLog._meta  # pylint: disable=protected-access  # Tortoise's public metadata
    columns = tuple(
        (name, field)
        for name, field in meta.fields_map.items()
        if name != "id" and field.model_field_name == name and name in meta.db_fields
    )
    marks = placeholders(dialect, len(columns))
    names = ", ".join(quote(field.source_field or name, dialect) for name, field in columns)
    table = quote(meta.db_table, dialect)
    sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(marks)})"  # noqa: S608  (model metadata, no input)
    return sql, columns


@functools.cache
def _add_counts_sql(table: str, keys: tuple[str, ...], rows: int) -> str:
    """MySQL: add to `rows` kept counts of `table`, each keyed by `keys` (created when new)."""
    columns = ", ".join(f"`{name}`" for name in (*keys, "entries"))
    row = f"({', '.join(['%s'] * (len(keys) + 1))})"
    return (
        f"INSERT INTO `{table}` ({columns}) VALUES {', '.join([row] * rows)} "  # noqa: S608  (our names, placeholders)
        "ON DUPLICATE KEY UPDATE `entries` = `entries` + VALUES(`entries`)"
    )


def day_counts(batch: list[AuditEntry]) -> list[tuple[date, int]]:
    """The batch's entries per UTC day, oldest day first (the order its rows are locked in,
    the same for every writer)."""
    counted = Counter(entry["created_at"].astimezone(UTC).date() for entry in batch)
    return sorted(counted.items())


async def insert(batch: list[AuditEntry]) -> None:
    """Writes the batch and counts it, in one transaction (raises what the driver raised)."""
    connection = Tortoise.get_connection("default")
    dialect = connection.schema_generator.DIALECT
    sql, columns = insert_statement(dialect)
    if dialect == "postgres":
        async with connection.acquire_connection() as raw:
            if hasattr(raw, "copy_records_to_table"):  # asyncpg (not psycopg)
                await raw.copy_records_to_table(
                    AuditLog._meta.db_table,  # pylint: disable=protected-access  # Tortoise's public metadata
                    records=[tuple(entry.get(name) for name, _ in columns) for entry in batch],
                    columns=[field.source_field or name for name, field in columns],
                )
                return
    rows = [
        [field.to_db_value(entry.get(name), None) for name, field in columns] for entry in batch
    ]
    if dialect != "mysql":
        await connection.execute_many(sql, rows)
        return
    counts = [value for day_count in day_counts(batch) for value in day_count]
    by_value = value_counts.batch_counts(batch)
    async with connection.acquire_connection() as raw, raw.cursor() as cursor:
        await cursor.execute(_COUNTING)
        try:
            await raw.begin()
            await cursor.executemany(sql, rows)
            await cursor.execute(
                _add_counts_sql("audit_day_count", ("day",), len(counts) // 2), counts
            )
            await cursor.execute(
                _add_counts_sql("audit_value_count", ("field", "value", "day"), len(by_value)),
                [v for count in by_value for v in count],
            )
            await raw.commit()
            await cursor.execute(_NOT_COUNTING)
        except BaseException:
            # Whatever failed (or was cancelled), the session must not go back to the pool
            # still saying it counts: closed, it goes, its open transaction rolled back.
            raw.close()
            raise
