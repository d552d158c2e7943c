"""Jobs on real Celery worker processes, on RabbitMQ and on Redis (never task_always_eager).

The web side is the real app (in-process, as in every API test) publishing to the broker;
the workers are `celery -A backend.jobs worker` processes on the same PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.study.models import ExportJob, StudyRecord
from settings import BASE_DIR, Settings
from tests.conftest import TEST_SECRET_KEY, register_and_login, unique_email
from tests.fixtures import services
from tests.fixtures.workers import (
    BROKERS,
    QUEUE,
    SESSION,
    Process,
    broker_reason,
    broker_url,
    purge_queue,
    worker_args,
    worker_env,
)
from tests.study.conftest import URL, create_record, user_id
from tests.study.test_export_jobs import names

pytestmark = pytest.mark.slow

EXPORTS = f"{URL}/exports"
FILTERS: dict[str, Any] = {"subject": "Physics", "studied_to": "2024-02-28", "q": "wave"}
BIG_EXPORT_ROWS = 50_000
# Past the 50,000-record export (about 9 s on a busy 2-core machine), short enough that
# the Redis broker hands a dead worker's job on in well under a minute.
TEST_JOB_TIME_LIMIT = 30


@pytest.fixture
def backend() -> str:
    """Workers are processes of their own: a database server they can share (PostgreSQL)."""
    return "postgres"


@pytest.fixture(params=BROKERS)
def broker(request: pytest.FixtureRequest) -> str:
    url = broker_url(request.param)
    reason = broker_reason(url)
    if reason:
        services.unavailable(reason)
    purge_queue(url, QUEUE)
    yield request.param
    purge_queue(url, QUEUE)


@pytest.fixture
def settings_overrides(broker: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "CELERY_BROKER_URL": broker_url(broker),
        "CELERY_QUEUE": QUEUE,
        "EXPORT_DIR": str(tmp_path / "exports"),
        "JOB_TIME_LIMIT_SECONDS": TEST_JOB_TIME_LIMIT,
        "METRICS_ENABLED": True,
    }


def jobs_status(settings: Settings) -> dict[str, Any]:
    """`python run.py jobs status --json` with the workers' settings, as an operator runs it."""
    done = subprocess.run(
        [sys.executable, "run.py", "jobs", "status", "--json"],
        cwd=BASE_DIR,
        env=worker_env(worker_settings(settings)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def queue_settled(settings: Settings, expected: int) -> dict[str, Any]:
    """`jobs status` once the queue shows `expected` messages (the broker may count a
    message published on another connection a moment later), or its last answer."""
    status = jobs_status(settings)
    for _ in range(20):
        if status["queued"] == expected:
            break
        await asyncio.sleep(0.5)
        status = jobs_status(settings)
    return status


def worker_settings(settings: Settings, **extra: Any) -> dict[str, Any]:
    """What a worker process is started with: the app's own settings."""
    values = {
        "APP_ENV": "test",
        "DATABASE_URL": settings.DATABASE_URL,
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": TEST_SECRET_KEY,
        "LOG_FORMAT": "text",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_QUEUE": settings.CELERY_QUEUE,
        "EXPORT_DIR": settings.EXPORT_DIR,
        "JOB_TIME_LIMIT_SECONDS": settings.JOB_TIME_LIMIT_SECONDS,
    }
    values.update(extra)
    return values


StartProcess = Callable[..., Process]


def partial_bytes(export_dir: Path, job_id: str) -> int:
    """How much of a job's hidden temporary file is written (0 before it exists)."""
    return sum(p.stat().st_size for p in export_dir.glob(f".{job_id}.*.part"))


def start_worker(start_process: StartProcess, settings: Settings, name: str) -> Process:
    worker = start_process(name, worker_args(name, QUEUE), worker_settings(settings))
    worker.wait_for("ready.")
    return worker


async def wait_job(
    client: httpx.AsyncClient, headers: dict[str, str], job_id: str, seconds: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = (await client.get(f"{EXPORTS}/{job_id}", headers=headers)).json()
        if job["status"] in {"done", "failed"}:
            return job
        await asyncio.sleep(0.2)
    pytest.fail(f"job {job_id} not finished in {seconds} s: {job}")


async def make_records(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Records that the filters keep and drop, with text CSV must quote and escape."""
    for n, (subject, title, day) in enumerate(
        [
            ("Physics", "Standing waves", "2024-02-03"),
            ("Physics", 'Wave, "optics"\nand more', "2024-02-10"),
            ("Physics", "Waves after the range", "2024-03-10"),
            ("Mathematics", "Wave equation", "2024-02-05"),
            ("Physics", '=HYPERLINK("x") wave', "2024-01-01"),
        ]
    ):
        await create_record(
            client, headers, subject=subject, title=title, studied_on=day, notes=f"é{n}"
        )


async def test_jobs_queued_without_a_worker_are_done_by_one_with_the_streamed_bytes(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    settings: Settings,
    start_process: StartProcess,
) -> None:
    other_user_headers = await register_and_login(client, unique_email("other"))
    await make_records(client, user_headers)
    jobs = {}
    for export_format in ("csv", "jsonl"):
        response = await client.post(
            EXPORTS, json={"format": export_format, **FILTERS}, headers=user_headers
        )
        assert response.status_code == 202, response.text
        jobs[export_format] = response.json()["id"]
    # No worker yet: the jobs wait in the queue, and they are the caller's active ones.
    await asyncio.sleep(1)
    for job_id in jobs.values():
        job = (await client.get(f"{EXPORTS}/{job_id}", headers=user_headers)).json()
        assert job["status"] == "queued"
        theirs = await client.get(f"{EXPORTS}/{job_id}", headers=other_user_headers)
        assert theirs.status_code == 404
    for _ in range(settings.EXPORT_MAX_ACTIVE_PER_USER - len(jobs)):
        response = await client.post(EXPORTS, json={"format": "csv"}, headers=user_headers)
        assert response.status_code == 202
    refused = await client.post(EXPORTS, json={"format": "csv"}, headers=user_headers)
    assert refused.status_code == 429
    assert refused.json() == {"detail": "TOO_MANY_REQUESTS"}
    waiting = settings.EXPORT_MAX_ACTIVE_PER_USER
    # In the queue: the export jobs and the verify mail of the user who registered through
    # the API (the one of `user_headers` was made through the ORM and sent none).
    in_queue = waiting + 1
    status = await queue_settled(settings, in_queue)
    # Nothing took them: every one still waits in this test's queue. (Which workers answer a
    # ping is not asserted: the ping is broadcast to the whole broker, where other tests'
    # workers on queues of their own, the image's included, may be running.)
    assert (status["reachable"], status["queued"]) == (True, in_queue)
    assert status["export_jobs"]["queued"] == waiting
    metrics = (await client.get("/metrics")).text
    assert f"studylog_job_queue_messages {in_queue:.1f}" in metrics
    assert f'studylog_export_jobs{{status="queued"}} {waiting:.1f}' in metrics

    start_worker(start_process, settings, "w1")
    for export_format, job_id in jobs.items():
        job = await wait_job(client, user_headers, job_id)
        assert job["status"] == "done", job
        download = await client.get(f"{EXPORTS}/{job_id}/download", headers=user_headers)
        streamed = await client.get(
            f"{URL}/export", params={"format": export_format, **FILTERS}, headers=user_headers
        )
        assert download.status_code == streamed.status_code == 200
        assert download.content == streamed.content
        assert job["rows"] == 3
        assert job["bytes"] == len(streamed.content)
        theirs = await client.get(f"{EXPORTS}/{job_id}/download", headers=other_user_headers)
        assert theirs.status_code == 404
    status = jobs_status(settings)
    # Every worker on the broker answers; this session's are the ones named after it.
    mine = [name.split("@")[0] for name in status["workers"] if SESSION in name]
    assert mine == [f"w1-{SESSION}"]
    assert status["export_jobs"]["done"] == waiting
    assert status["queued"] == 0


async def test_a_worker_killed_mid_export_leaves_the_job_to_another(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    settings: Settings,
    start_process: StartProcess,
) -> None:
    owner = await user_id(client, user_headers)
    start = date(2020, 1, 1)
    await StudyRecord.bulk_create(
        [
            StudyRecord(
                owner_id=owner,
                subject=f"Subject {n % 7}",
                title=f"Record {n}, with a comma",
                minutes=1 + n % 600,
                studied_on=start + timedelta(days=n % 1500),
                notes="notes " * (n % 5),
            )
            for n in range(BIG_EXPORT_ROWS)
        ],
        batch_size=5000,
    )
    workers = [start_worker(start_process, settings, name) for name in ("w1", "w2")]
    big = (await client.post(EXPORTS, json={"format": "csv"}, headers=user_headers)).json()["id"]

    # Wait until one worker is half-way through writing, then kill that whole worker.
    export_dir = Path(settings.EXPORT_DIR)
    deadline = time.monotonic() + 30
    while partial_bytes(export_dir, big) < 1_000_000:
        assert time.monotonic() < deadline, [w.text()[-2000:] for w in workers]
        await asyncio.sleep(0.01)
    busy = next(w for w in workers if big in w.text())
    idle = next(w for w in workers if w is not busy)
    # The other worker takes the next job meanwhile: both consume the one queue.
    small = (
        await client.post(
            EXPORTS,
            json={"format": "jsonl", "subject": "Subject 3", "q": "Record 1000"},
            headers=user_headers,
        )
    ).json()
    busy.kill()
    assert (await ExportJob.get(id=big)).status == "running"

    small_done = await wait_job(client, user_headers, small["id"])
    assert small_done["status"] == "done"
    assert small["id"] in idle.text()
    job = await wait_job(client, user_headers, big, seconds=90)
    assert job["status"] == "done", (job, idle.text()[-3000:])
    assert job["rows"] == BIG_EXPORT_ROWS
    download = await client.get(f"{EXPORTS}/{big}/download", headers=user_headers)
    streamed = await client.get(f"{URL}/export", headers=user_headers)
    assert download.content == streamed.content
    assert len(download.content) == job["bytes"]
    # Exactly one complete file per job, no half-written leftovers, one row each.
    assert names(export_dir) == sorted([f"{big}.csv", f"{small['id']}.jsonl"])
    assert await ExportJob.filter(owner_id=owner).count() == 2
    assert (await ExportJob.get(id=big)).attempts == 2


async def test_two_hosts_accounts_on_one_queue(
    client: httpx.AsyncClient, settings: Settings, start_process: StartProcess
) -> None:
    """Someone else's job on a worker is still someone else's: 404 through the API."""
    headers = await register_and_login(client, unique_email("a"))
    other = await register_and_login(client, unique_email("b"))
    start_worker(start_process, settings, "w1")
    job_id = (await client.post(EXPORTS, json={"format": "csv"}, headers=headers)).json()["id"]
    assert (await wait_job(client, headers, job_id))["status"] == "done"
    for path in (f"{EXPORTS}/{job_id}", f"{EXPORTS}/{job_id}/download"):
        assert (await client.get(path, headers=other)).status_code == 404
