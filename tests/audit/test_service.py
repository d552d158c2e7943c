"""Retention: purge removes the days older than N days (the CLI calls it); whole day
partitions are tests/audit/test_partitions.py's."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.audit import service
from app.audit.models import AuditLog
from app.audit.partitions import midnight, utc_today

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects


async def seed(times: list[datetime]) -> None:
    await AuditLog.bulk_create(
        [
            AuditLog(
                created_at=moment,
                request_id=f"at-{n}",
                method="GET",
                path="/x",
                status_code=200,
                duration_ms=1.0,
            )
            for n, moment in enumerate(times)
        ]
    )


def days_ago(days: int, *, hours: float = 0) -> datetime:
    return midnight(utc_today() - timedelta(days=days)) + timedelta(hours=hours)


@pytest.mark.usefixtures("app")
async def test_purge_removes_the_days_before_the_cutoff_in_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Today and 30 whole days before it stay; rows outside a whole partition (every row on
    SQLite; the migration's partition of older rows elsewhere) go in batches."""
    await seed(
        [
            days_ago(40, hours=12),
            days_ago(35),
            days_ago(31, hours=23.99),
            days_ago(30),  # the first moment kept
            days_ago(29, hours=5),
            days_ago(0, hours=1),
        ]
    )
    deletes = 0
    real_filter = AuditLog.filter

    def counting_filter(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        nonlocal deletes
        if "id__in" in kwargs:
            deletes += 1
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(AuditLog, "filter", counting_filter)
    report = await service.purge(older_than_days=30, batch_size=2)
    assert report.cutoff == days_ago(30)
    assert (report.rows_deleted, report.partitions, deletes) == (3, [], 2)
    remaining = await real_filter().values_list("request_id", flat=True)
    assert sorted(remaining) == ["at-3", "at-4", "at-5"]


@pytest.mark.usefixtures("app")
async def test_purge_dry_run_counts_and_deletes_nothing() -> None:
    await seed([days_ago(40), days_ago(31, hours=2), days_ago(1)])
    report = await service.purge(older_than_days=30, dry_run=True)
    assert (report.rows, report.rows_deleted) == (2, 2)
    assert await AuditLog.all().count() == 3


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_purge_refuses_a_negative_age() -> None:
    with pytest.raises(ValueError, match="older_than_days"):
        await service.purge(older_than_days=-1)
