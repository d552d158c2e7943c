"""`celery -A backend.jobs beat` with a short schedule and a real worker: audit entries past
AUDIT_RETENTION_DAYS are purged, expired export files and rows removed, the rest kept."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.audit.models import AuditLog
from app.study.models import ExportJob, ExportStatus
from settings import Settings

# PostgreSQL, and the schedule on Redis (one broker is enough: beat only publishes).
from tests.backend.test_jobs import (  # noqa: F401  # pylint: disable=unused-import
    StartProcess,
    backend,
    broker,
    settings_overrides,
    worker_settings,
)
from tests.conftest import register_and_login, unique_email
from tests.fixtures.workers import QUEUE, worker_args
from tests.study.conftest import user_id
from tests.study.test_export_jobs import names, write_file

pytestmark = pytest.mark.slow

RETENTION_DAYS = 30


def entry(age_days: float, path: str) -> AuditLog:
    return AuditLog(
        created_at=datetime.now(UTC) - timedelta(days=age_days),
        request_id=f"beat-{path}",
        method="GET",
        path=path,
        route=path,
        status_code=200,
        duration_ms=1.0,
    )


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
async def test_beat_purges_old_audit_entries_and_removes_expired_exports(
    client: httpx.AsyncClient, settings: Settings, start_process: StartProcess, tmp_path: Path
) -> None:
    headers = await register_and_login(client, unique_email("beat"))
    owner = await user_id(client, headers)
    await AuditLog.bulk_create(
        [entry(RETENTION_DAYS + 1, f"/old/{n}") for n in range(25)]
        + [entry(RETENTION_DAYS - 1, "/recent")]
    )
    export_dir = Path(settings.EXPORT_DIR)
    now = datetime.now(UTC)
    expired = await ExportJob.create(
        owner_id=owner, format="csv", status=ExportStatus.DONE, expires_at=now - timedelta(hours=1)
    )
    kept = await ExportJob.create(
        owner_id=owner, format="csv", status=ExportStatus.DONE, expires_at=now + timedelta(hours=1)
    )
    write_file(export_dir / expired.file_name, b"id\n")
    write_file(export_dir / kept.file_name, b"id\n")

    schedule: dict[str, Any] = {
        "AUDIT_RETENTION_DAYS": RETENTION_DAYS,
        "AUDIT_PURGE_EVERY_SECONDS": 1,
        "EXPORT_CLEANUP_EVERY_SECONDS": 1,
        "BEAT_SCHEDULE_FILE": tmp_path / "beat-schedule",
    }
    values = worker_settings(settings, **schedule)
    start_process("w1", worker_args("w1", QUEUE), values).wait_for("ready.")
    beat = start_process("beat", ["beat", "--loglevel=INFO"], values)

    deadline = time.monotonic() + 30
    while (
        await AuditLog.filter(path__startswith="/old/").exists()
        or await ExportJob.filter(id=expired.id).exists()
    ):
        assert time.monotonic() < deadline, beat.text()[-3000:]
        await asyncio.sleep(0.2)
    assert "Sending due task audit-purge" in beat.text()
    assert await AuditLog.filter(path="/recent").count() == 1
    assert await ExportJob.filter(id=kept.id).exists()
    assert names(export_dir) == [kept.file_name]
