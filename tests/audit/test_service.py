"""Retention: purge deletes entries older than N days, in batches (the CLI calls it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.audit import service
from app.audit.models import AuditLog

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects


async def seed(ages_in_days: list[float]) -> None:
    now = datetime.now(UTC)
    await AuditLog.bulk_create(
        [
            AuditLog(
                created_at=now - timedelta(days=age),
                request_id=f"age-{n}",
                method="GET",
                path="/x",
                status_code=200,
                duration_ms=1.0,
            )
            for n, age in enumerate(ages_in_days)
        ]
    )


@pytest.mark.usefixtures("app")
async def test_purge_deletes_older_entries_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    await seed([40, 35, 31, 30.5, 45, 29, 1])
    deletes = 0
    real_filter = AuditLog.filter

    def counting_filter(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        nonlocal deletes
        if "id__in" in kwargs:
            deletes += 1
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(AuditLog, "filter", counting_filter)
    assert await service.purge(older_than_days=30, batch_size=2) == 5
    assert deletes == 3
    remaining = await real_filter().values_list("request_id", flat=True)
    assert sorted(remaining) == ["age-5", "age-6"]


@pytest.mark.usefixtures("app")
async def test_purge_dry_run_counts_and_deletes_nothing() -> None:
    await seed([40, 35, 1])
    assert await service.purge(older_than_days=30, dry_run=True) == 2
    assert await AuditLog.all().count() == 3


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_purge_refuses_a_negative_age() -> None:
    with pytest.raises(ValueError, match="older_than_days"):
        await service.purge(older_than_days=-1)
