"""Which database errors say that no audit partition takes a row (app/audit/writer.py then
makes the day and writes the batch again), told by the drivers' error codes."""

from __future__ import annotations

import asyncpg
import pymysql

# MySQL's ER_NO_PARTITION_FOR_GIVEN_VALUE: "Table has no partition for value …".
MYSQL_NO_PARTITION_FOR_VALUE = 1526


def _with_driver_errors(exc: BaseException) -> list[BaseException]:
    """The error and the driver's under it: Tortoise raises its own with the driver's as
    its first argument (and, on PostgreSQL, its cause)."""
    found: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        error = pending.pop()
        if error is None or any(error is seen for seen in found):
            continue
        found.append(error)
        pending.append(error.__cause__)
        if error.args and isinstance(error.args[0], BaseException):
            pending.append(error.args[0])
    return found


def is_missing_partition(exc: BaseException) -> bool:
    """The database refused a row because no partition takes its time, by the driver's
    error code: PostgreSQL's check_violation (SQLSTATE 23514) naming no constraint (a CHECK
    constraint's names itself), MySQL's ER_NO_PARTITION_FOR_GIVEN_VALUE (1526)."""
    for error in _with_driver_errors(exc):
        if isinstance(error, asyncpg.exceptions.CheckViolationError):
            return getattr(error, "constraint_name", None) is None
        if isinstance(error, pymysql.err.MySQLError) and error.args:
            return error.args[0] == MYSQL_NO_PARTITION_FOR_VALUE
    return False
