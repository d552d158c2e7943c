"""The SQL of app/audit/partitions.py, per dialect. Names and bounds come from dates made
here, never from input; identifiers are still quoted."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from app.platform.dialect import quote

TABLE = "audit_log"
# PostgreSQL's advisory lock key and MySQL's lock name for whoever changes the partitions.
LOCK_KEY = 0x5354_4C41  # "STLA"
LOCK_NAME = "studylog.audit_partitions"

# --- PostgreSQL ---------------------------------------------------------------------------

PG_LISTING = """
SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound,
       c.reltuples::bigint AS rows, pg_total_relation_size(c.oid) AS bytes
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass('audit_log')
"""
PG_IS_PARTITIONED = (
    "SELECT relkind = 'p' AS partitioned FROM pg_class WHERE oid = to_regclass('audit_log')"
)
PG_TRY_LOCK = "SELECT pg_try_advisory_lock($1)"
PG_UNLOCK = "SELECT pg_advisory_unlock($1)"
PG_ANALYZE = f"ANALYZE {quote(TABLE, 'postgres')}"


def pg_day_name(day: date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def pg_lock_timeout(seconds: float) -> str:
    return f"SET LOCAL lock_timeout = '{int(seconds * 1000)}ms'"


def _pg_time(moment: datetime) -> str:
    return f"'{moment.isoformat(sep=' ')}'"


def pg_create_day(name: str, start: datetime) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {quote(name, 'postgres')} "
        f"PARTITION OF {quote(TABLE, 'postgres')} "
        f"FOR VALUES FROM ({_pg_time(start)}) TO ({_pg_time(start + timedelta(days=1))})"
    )


def pg_detach(name: str, *, how: str = "") -> str:
    """DETACH PARTITION; `how`: "" (plain), "CONCURRENTLY" or "FINALIZE"."""
    return (
        f"ALTER TABLE {quote(TABLE, 'postgres')} DETACH PARTITION {quote(name, 'postgres')} {how}"
    ).rstrip()


# The kept count of a retired day (app/audit/day_counts.py).
PG_FORGET_DAY = "DELETE FROM audit_day_count WHERE day = $1"


def pg_drop(name: str) -> str:
    return f"DROP TABLE IF EXISTS {quote(name, 'postgres')}"


# --- MySQL / MariaDB -----------------------------------------------------------------------

MYSQL_LISTING = """
SELECT PARTITION_NAME AS name, PARTITION_DESCRIPTION AS bound, TABLE_ROWS AS `rows`,
       DATA_LENGTH + INDEX_LENGTH AS bytes
FROM information_schema.PARTITIONS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'audit_log'
ORDER BY PARTITION_ORDINAL_POSITION
"""
MYSQL_GET_LOCK = "SELECT GET_LOCK(%s, %s)"
MYSQL_RELEASE_LOCK = "SELECT RELEASE_LOCK(%s)"
MYSQL_LOCK_TIMEOUT_DEFAULT = "SET SESSION lock_wait_timeout = DEFAULT"
OVERFLOW = "p_future"


def mysql_lock_timeout(seconds: float) -> str:
    return f"SET SESSION lock_wait_timeout = {max(1, round(seconds))}"


def mysql_day_name(day: date) -> str:
    return f"p{day:%Y%m%d}"


def _mysql_day(day: date) -> str:
    end = day + timedelta(days=1)
    name = quote(mysql_day_name(day), "mysql")
    return f"PARTITION {name} VALUES LESS THAN ('{end:%Y-%m-%d} 00:00:00')"


def mysql_add_days(days: list[date], overflow: str | None) -> str:
    """Days after the last bounded partition, split off the MAXVALUE partition (or added,
    with a new MAXVALUE partition, when there is none)."""
    table = quote(TABLE, "mysql")
    parts = [_mysql_day(day) for day in days]
    parts.append(f"PARTITION {quote(OVERFLOW, 'mysql')} VALUES LESS THAN (MAXVALUE)")
    if overflow is None:
        return f"ALTER TABLE {table} ADD PARTITION ({', '.join(parts)})"
    split = quote(overflow, "mysql")
    return f"ALTER TABLE {table} REORGANIZE PARTITION {split} INTO ({', '.join(parts)})"


def mysql_drop(names: list[str]) -> str:
    listed = ", ".join(quote(name, "mysql") for name in names)
    return f"ALTER TABLE {quote(TABLE, 'mysql')} DROP PARTITION {listed}"
