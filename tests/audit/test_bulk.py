"""MySQL's audit batches count their own days (app/audit/bulk.py, migration 13): the batch
and its day counts in one transaction, once, and no pooled session left telling the trigger
to skip the rows of later inserts, whether the batch was written or refused."""

from __future__ import annotations

from datetime import timedelta

import pymysql
import pytest
from tortoise import Tortoise

from app.audit import bulk
from app.audit.models import AuditLog
from app.audit.partitions import midnight
from app.audit.writer import AuditWriter
from tests.audit.test_day_counts import counted, day, kept, row


@pytest.fixture
def backend() -> str:
    return "mysql"


async def _sessions_skipping_counts() -> int:
    """How many of the pool's connections say their inserts are counted by the writer:
    every connection at once (the pool's size, held together), each asked."""
    pool = Tortoise.get_connection("default")._pool  # pylint: disable=protected-access  # the pool itself
    held = [await pool.acquire() for _ in range(pool.maxsize)]
    try:
        skipping = 0
        for connection in held:
            async with connection.cursor() as cursor:
                await cursor.execute("SELECT @studylog_audit_counted")
                skipping += (await cursor.fetchone())[0] is not None
        return skipping
    finally:
        for connection in held:
            await pool.release(connection)


@pytest.mark.usefixtures("app")
async def test_a_batch_counts_its_days_once_and_leaves_no_session_skipping_counts() -> None:
    writer = AuditWriter()
    moment = midnight(day(0)) + timedelta(hours=1)
    await writer.insert_rows(
        [row(moment, f"ok-{n}") for n in range(5)] + [row(midnight(day(-1)), "late")]
    )
    assert await kept() == await counted() == {day(0): 5, day(-1): 1}
    assert await _sessions_skipping_counts() == 0
    # A batch the database refuses (a duration no column stores) after the session said it
    # counts: nothing of it lands, and its session does not go back to the pool.
    refused = {**row(moment, "refused"), "duration_ms": float("nan")}
    with pytest.raises(pymysql.err.MySQLError):
        await writer.insert_rows([row(moment, "fine"), refused])
    assert await _sessions_skipping_counts() == 0
    # So every other insert is still counted by the trigger, on whichever connection.
    await AuditLog.bulk_create([AuditLog(**row(moment, f"orm-{n}")) for n in range(3)])
    assert await kept() == await counted() == {day(0): 8, day(-1): 1}


def test_the_days_are_counted_oldest_first() -> None:
    """One order for every writer, so two batches lock their day rows in the same order."""
    moment = midnight(day(0))
    batch = [row(moment, "a"), row(moment - timedelta(days=2), "b"), row(moment, "c")]
    assert bulk.day_counts(batch) == [(day(-2), 1), (day(0), 2)]
