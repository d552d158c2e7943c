"""Export jobs without a broker: the job runs in the web process after the answer, through
the same code a Celery worker runs (tests/backend/test_jobs.py runs it on real workers)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.jobs.runner import JobContext
from app.notify.mail import LogMailSender
from app.notify.sms import NoSmsSender
from app.platform.store import MemoryStore
from app.study import export_files, tasks
from app.study.models import ExportJob, ExportStatus
from settings import Settings
from tests.study.conftest import URL, create_record, insert_records, user_id

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects

EXPORTS = f"{URL}/exports"
FILTERS: dict[str, Any] = {"subject": "Physics", "studied_from": "2024-02-01", "q": "wave"}


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    return {"EXPORT_DIR": str(tmp_path / "exports")}


def names(directory: Path | str) -> list[str]:
    """The files in a directory, hidden ones included."""
    return sorted(p.name for p in Path(directory).iterdir())


def read_file(path: Path) -> bytes:
    return path.read_bytes()


def write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def job_context(settings: Settings) -> JobContext:
    return JobContext(
        settings=settings,
        store=MemoryStore(),
        mail=LogMailSender(show_body=False),
        sms=NoSmsSender(),
    )


async def make_records(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Records some of which every filter keeps, with text that CSV must quote and escape."""
    for n, (subject, title, day) in enumerate(
        [
            ("Physics", "Standing waves", "2024-02-03"),
            ("Physics", 'Wave, "optics"\nand more', "2024-02-10"),
            ("Physics", "Waves before the range", "2024-01-10"),
            ("Mathematics", "Wave equation", "2024-02-05"),
            ("physics", "lower-case subject wave", "2024-02-06"),
            ("Physics", '=HYPERLINK("x") wave', "2024-03-01"),
            ("Physics", "Thermodynamics", "2024-02-07"),
        ]
    ):
        await create_record(
            client, headers, subject=subject, title=title, studied_on=day, notes=f"ü {n}\r\n"
        )


async def finished(client: httpx.AsyncClient, headers: dict[str, str], job_id: str) -> dict:
    response = await client.get(f"{EXPORTS}/{job_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("export_format", "order"),
    [("csv", {}), ("jsonl", {}), ("csv", {"order_by": "minutes"})],
)
async def test_job_file_is_byte_for_byte_the_streamed_export(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    settings: Settings,
    export_format: str,
    order: dict[str, str],
) -> None:
    await make_records(client, user_headers)
    response = await client.post(
        EXPORTS, json={"format": export_format, **FILTERS, **order}, headers=user_headers
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued"
    assert job["rows"] is None
    assert job["finished_at"] is None
    assert job["expires_at"] is None
    assert response.headers["Location"] == f"{EXPORTS}/{job['id']}"

    done = await finished(client, user_headers, job["id"])
    streamed = await client.get(
        f"{URL}/export",
        params={"format": export_format, **FILTERS, **order},
        headers=user_headers,
    )
    assert streamed.status_code == 200
    assert done["status"] == "done", done
    download = await client.get(f"{EXPORTS}/{job['id']}/download", headers=user_headers)
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.content == streamed.content
    assert done["rows"] == 3  # two waves in range, one formula-looking title
    assert done["bytes"] == len(streamed.content)
    # Only the finished file is in the directory: no temporary file is left behind.
    assert names(settings.EXPORT_DIR) == [f"{job['id']}.{export_format}"]


async def test_an_export_of_nothing_is_an_empty_but_complete_file(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    response = await client.post(EXPORTS, json={"format": "csv"}, headers=user_headers)
    job = await finished(client, user_headers, response.json()["id"])
    download = await client.get(f"{EXPORTS}/{job['id']}/download", headers=user_headers)
    streamed = await client.get(f"{URL}/export", headers=user_headers)
    assert job["rows"] == 0
    assert download.content == streamed.content
    assert download.content.startswith(b"id,owner_id,")


async def test_jobs_are_listed_newest_first_and_only_the_callers(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    ids = []
    for export_format in ("csv", "jsonl"):
        response = await client.post(EXPORTS, json={"format": export_format}, headers=user_headers)
        ids.append(response.json()["id"])
    await client.post(EXPORTS, json={"format": "csv"}, headers=other_user_headers)
    listed = await client.get(EXPORTS, headers=user_headers)
    assert listed.status_code == 200
    body = listed.json()
    assert body["total"] == 2
    assert [item["id"] for item in body["items"]] == ids[::-1]


async def test_another_users_job_is_404(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    response = await client.post(EXPORTS, json={"format": "csv"}, headers=user_headers)
    job_id = response.json()["id"]
    for path in (f"{EXPORTS}/{job_id}", f"{EXPORTS}/{job_id}/download"):
        theirs = await client.get(path, headers=other_user_headers)
        missing = await client.get(path.replace(job_id, str(uuid.uuid4())), headers=user_headers)
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json() == missing.json() == {"detail": "Item not found"}
    assert (await client.get(f"{EXPORTS}/not-a-uuid", headers=user_headers)).status_code == 422
    assert (await client.get(f"{EXPORTS}/{job_id}")).status_code == 401
    assert (await client.post(EXPORTS, json={"format": "csv"})).status_code == 401


async def queued_job(owner: uuid.UUID, **fields: Any) -> ExportJob:
    return await ExportJob.create(owner_id=owner, format="csv", **fields)


@pytest.mark.parametrize("settings_overrides", [{"EXPORT_MAX_ACTIVE_PER_USER": 2}])
async def test_the_per_user_cap_answers_429_and_stores_nothing(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    owner = await user_id(client, user_headers)
    await queued_job(owner)
    await queued_job(owner, status=ExportStatus.RUNNING)
    await queued_job(owner, status=ExportStatus.DONE)  # finished jobs do not count
    response = await client.post(EXPORTS, json={"format": "csv"}, headers=user_headers)
    assert response.status_code == 429
    assert response.json() == {"detail": "TOO_MANY_REQUESTS"}
    assert await ExportJob.filter(owner_id=owner).count() == 3
    # Someone else's jobs are theirs to count.
    other = await client.post(EXPORTS, json={"format": "csv"}, headers=other_user_headers)
    assert other.status_code == 202


async def test_download_before_done_is_409_and_after_expiry_410(
    client: httpx.AsyncClient, user_headers: dict[str, str], settings: Settings
) -> None:
    owner = await user_id(client, user_headers)
    for status in (ExportStatus.QUEUED, ExportStatus.RUNNING, ExportStatus.FAILED):
        job = await queued_job(owner, status=status)
        response = await client.get(f"{EXPORTS}/{job.id}/download", headers=user_headers)
        assert response.status_code == 409
        assert response.json() == {"detail": "EXPORT_NOT_READY"}

    created = await client.post(EXPORTS, json={"format": "jsonl"}, headers=user_headers)
    job_id = created.json()["id"]
    await ExportJob.filter(id=job_id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    response = await client.get(f"{EXPORTS}/{job_id}/download", headers=user_headers)
    assert response.status_code == 410
    assert response.json() == {"detail": "EXPORT_EXPIRED"}
    # The scheduled removal takes the file and the row.
    assert await tasks.remove_expired_exports(job_context(settings)) == 1
    assert names(settings.EXPORT_DIR) == []
    assert (await client.get(f"{EXPORTS}/{job_id}", headers=user_headers)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"format": "xlsx"},
        {"format": "csv", "subject": "a\x00b"},
        '{"format": "csv", "q": "\\ud800"}',  # a lone surrogate, as JSON text
        {"format": "csv", "q": "x" * 201},
        {"format": "csv", "studied_from": "2024-03-02", "studied_to": "2024-03-01"},
        {"format": "csv", "studied_from": 0},
        {"format": "csv", "studied_form": "2024-03-01"},  # a typo is not "no filter"
    ],
)
async def test_bad_job_bodies_are_422_and_store_nothing(
    client: httpx.AsyncClient, user_headers: dict[str, str], body: dict[str, Any] | str
) -> None:
    if isinstance(body, str):
        headers = {**user_headers, "Content-Type": "application/json"}
        response = await client.post(EXPORTS, content=body.encode(), headers=headers)
    else:
        response = await client.post(EXPORTS, json=body, headers=user_headers)
    assert response.status_code == 422, response.text
    assert await ExportJob.all().count() == 0


async def test_running_a_job_twice_changes_nothing(
    client: httpx.AsyncClient, user_headers: dict[str, str], settings: Settings
) -> None:
    await make_records(client, user_headers)
    response = await client.post(EXPORTS, json={"format": "csv"}, headers=user_headers)
    job_id = response.json()["id"]
    before = await ExportJob.get(id=job_id)
    path = Path(settings.EXPORT_DIR) / before.file_name
    content = read_file(path)
    await tasks.run_export(job_context(settings), job_id=job_id)
    after = await ExportJob.get(id=job_id)
    assert (after.status, after.attempts, after.finished_at) == (
        before.status,
        before.attempts,
        before.finished_at,
    )
    assert read_file(path) == content


async def test_a_job_left_running_by_a_dead_try_is_finished_by_the_next(
    client: httpx.AsyncClient, user_headers: dict[str, str], settings: Settings
) -> None:
    owner = await user_id(client, user_headers)
    await insert_records(owner, [("Chemistry", 30, date(2024, 1, d)) for d in range(1, 29)])
    job = await queued_job(owner, status=ExportStatus.RUNNING, attempt="dead", attempts=1)
    export_dir = Path(settings.EXPORT_DIR)
    write_file(export_dir / f".{job.id}.dead.part", b"id,owner_id,sub")
    await tasks.run_export(job_context(settings), job_id=str(job.id))
    done = await ExportJob.get(id=job.id)
    assert done.status == ExportStatus.DONE
    assert (done.rows, done.attempts) == (28, 2)
    assert names(export_dir) == [job.file_name]
    streamed = await client.get(f"{URL}/export", headers=user_headers)
    assert read_file(export_dir / job.file_name) == streamed.content
    # The dead try, should it wake, can no longer mark the job.
    await export_files.finish(done, "dead", status=ExportStatus.FAILED, error="late")
    assert (await ExportJob.get(id=job.id)).status == ExportStatus.DONE


async def test_a_failing_job_is_marked_failed_with_a_short_error(
    client: httpx.AsyncClient, user_headers: dict[str, str], settings: Settings, app: FastAPI
) -> None:
    del app
    owner = await user_id(client, user_headers)
    write_file(Path(settings.EXPORT_DIR), b"a file where the directory should be")
    response = await client.post(EXPORTS, json={"format": "csv"}, headers=user_headers)
    assert response.status_code == 202
    job = await ExportJob.get(owner_id=owner)
    assert job.status == ExportStatus.FAILED
    assert job.error
    assert len(job.error) <= 200
    shown = await finished(client, user_headers, str(job.id))
    assert shown["status"] == "failed"
    assert shown["error"] == job.error


async def test_a_job_download_is_named_as_the_streamed_export(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    """One file name for one export, however it was made: `study-records-{owner}-{day}`."""
    await create_record(client, user_headers)
    owner = await user_id(client, user_headers)
    for file_format in ("csv", "jsonl"):
        created = await client.post(EXPORTS, json={"format": file_format}, headers=user_headers)
        job = await finished(client, user_headers, created.json()["id"])
        assert job["status"] == "done", job
        download = await client.get(f"{EXPORTS}/{job['id']}/download", headers=user_headers)
        streamed = await client.get(
            f"{URL}/export", params={"format": file_format}, headers=user_headers
        )
        day = datetime.now(UTC).date().isoformat()
        expected = f'attachment; filename="study-records-{owner}-{day}.{file_format}"'
        assert streamed.headers["content-disposition"] == expected
        assert download.headers["content-disposition"] == expected
