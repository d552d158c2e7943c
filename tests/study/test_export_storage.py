"""What export files may take and how long they stay: private modes, the per-user limits
of finished files, the free-space floor, files going with their owner (and with their row),
and a download answered by what the caller may see now."""

from __future__ import annotations

import os
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.auth.models import User
from app.jobs.runner import JobContext
from app.notify.mail import LogMailSender
from app.notify.sms import NoSmsSender
from app.platform.store import MemoryStore
from app.study import export_files, tasks
from app.study.models import ExportJob, ExportStatus
from settings import Settings
from tests.conftest import PASSWORD, bearer_for, make_user
from tests.study.conftest import URL, create_record, user_id

# Job rows, their cascade and the cleanup's queries differ by dialect (tests/README.md).
pytestmark = pytest.mark.dialects

EXPORTS = f"{URL}/exports"


def names(directory: Path | str) -> list[str]:
    """The files in a directory, hidden ones included."""
    return sorted(p.name for p in Path(directory).iterdir())


def job_context(settings: Settings) -> JobContext:
    return JobContext(
        settings=settings,
        store=MemoryStore(),
        mail=LogMailSender(show_body=False),
        sms=NoSmsSender(),
    )


async def finished(client: httpx.AsyncClient, headers: dict[str, str], job_id: str) -> dict:
    response = await client.get(f"{EXPORTS}/{job_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def done_export(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict:
    """A job asked for and run (in process, after the answer), as its owner sees it."""
    response = await client.post(EXPORTS, json={"format": "csv", **body}, headers=headers)
    assert response.status_code == 202, response.text
    job = await finished(client, headers, response.json()["id"])
    assert job["status"] == "done", job
    return job


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask: what the service makes must be private anyway."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def written(directory: Path | str) -> bool:
    """Whether the folder exists and holds anything."""
    return Path(directory).is_dir() and bool(names(directory))


def open_up(path: Path) -> None:
    path.chmod(0o777)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
async def test_export_files_are_0600_in_a_0700_folder_whatever_the_umask(
    client: httpx.AsyncClient, user_headers: dict[str, str], settings: Settings
) -> None:
    export_dir = Path(settings.EXPORT_DIR)
    await create_record(client, user_headers)
    first = await done_export(client, user_headers)
    assert mode(export_dir) == 0o700
    assert mode(export_dir / f"{first['id']}.csv") == 0o600
    # A folder someone made open is closed again by the next export.
    open_up(export_dir)
    second = await done_export(client, user_headers, **{"format": "jsonl"})
    assert mode(export_dir) == 0o700
    assert mode(export_dir / f"{second['id']}.jsonl") == 0o600


@pytest.mark.parametrize("settings_overrides", [{"EXPORT_MAX_FILES_PER_USER": 2}])
async def test_past_the_file_limit_the_oldest_file_goes_with_its_job(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_user_headers: dict[str, str],
    settings: Settings,
) -> None:
    theirs = await done_export(client, other_user_headers)
    ids = [(await done_export(client, user_headers))["id"] for _ in range(3)]
    listed = (await client.get(EXPORTS, headers=user_headers)).json()
    assert [item["id"] for item in listed["items"]] == ids[:0:-1]
    assert (await client.get(f"{EXPORTS}/{ids[0]}", headers=user_headers)).status_code == 404
    assert names(settings.EXPORT_DIR) == sorted(f"{i}.csv" for i in [*ids[1:], theirs["id"]])


async def test_past_the_byte_limit_the_oldest_files_go(
    client: httpx.AsyncClient, user_headers: dict[str, str], app: FastAPI
) -> None:
    await create_record(client, user_headers)
    first = await done_export(client, user_headers)
    # Room for two files of this size, not three.
    app.state.settings.EXPORT_MAX_BYTES_PER_USER = 2 * first["bytes"] + 1
    second = await done_export(client, user_headers)
    third = await done_export(client, user_headers)
    export_dir = Path(app.state.settings.EXPORT_DIR)
    assert names(export_dir) == sorted(f"{job['id']}.csv" for job in (second, third))
    assert await ExportJob.filter(id=first["id"]).count() == 0
    # One file bigger than the limit is still kept: the newest always stays.
    app.state.settings.EXPORT_MAX_BYTES_PER_USER = 1
    fourth = await done_export(client, user_headers)
    assert names(export_dir) == [f"{fourth['id']}.csv"]


@pytest.mark.parametrize("settings_overrides", [{"EXPORT_MIN_FREE_BYTES": 2**60}])
async def test_below_the_free_space_floor_a_new_export_is_503_and_stores_nothing(
    client: httpx.AsyncClient, user_headers: dict[str, str], settings: Settings
) -> None:
    response = await client.post(EXPORTS, json={"format": "csv"}, headers=user_headers)
    assert response.status_code == 503
    assert response.json() == {"detail": "EXPORT_STORAGE_FULL"}
    assert await ExportJob.all().count() == 0
    assert not written(settings.EXPORT_DIR)


async def test_a_queued_job_that_meets_a_full_disk_fails_and_writes_nothing(
    client: httpx.AsyncClient, user_headers: dict[str, str], settings: Settings
) -> None:
    owner = await user_id(client, user_headers)
    job = await ExportJob.create(owner_id=owner, format="csv")
    settings.EXPORT_MIN_FREE_BYTES = 2**60
    await tasks.run_export(job_context(settings), job_id=str(job.id))
    failed = await ExportJob.get(id=job.id)
    assert (failed.status, failed.error) == (ExportStatus.FAILED, "export storage full")
    assert not written(settings.EXPORT_DIR)


async def test_deregistration_removes_the_owners_export_files(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_user_headers: dict[str, str],
    settings: Settings,
) -> None:
    await create_record(client, user_headers)
    mine = [await done_export(client, user_headers, **{"format": f}) for f in ("csv", "jsonl")]
    theirs = await done_export(client, other_user_headers)
    owner = await user_id(client, user_headers)
    # A half-written file of a try that died goes too.
    half = Path(settings.EXPORT_DIR) / f".{mine[0]['id']}.{uuid.uuid4().hex}.part"
    half.write_bytes(b"id,owner")
    response = await client.request(
        "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=user_headers
    )
    assert response.status_code == 204, response.text
    assert await ExportJob.filter(owner_id=owner).count() == 0
    assert names(settings.EXPORT_DIR) == [f"{theirs['id']}.csv"]


async def test_the_cleanup_removes_files_without_a_job_once_past_the_grace(
    client: httpx.AsyncClient, user_headers: dict[str, str], settings: Settings
) -> None:
    kept = await done_export(client, user_headers)
    export_dir = Path(settings.EXPORT_DIR)
    old = time.time() - settings.EXPORT_ORPHAN_GRACE_SECONDS - 60
    orphans = [f"{uuid.uuid4()}.csv", f".{uuid.uuid4()}.{uuid.uuid4().hex}.part"]
    young = f"{uuid.uuid4()}.jsonl"
    foreign = "notes.txt"  # not a name the service makes: never touched
    for name in [*orphans, young, foreign]:
        (export_dir / name).write_bytes(b"x")
    for name in [*orphans, foreign, f"{kept['id']}.csv"]:
        os.utime(export_dir / name, (old, old))
    assert await tasks.remove_expired_exports(job_context(settings)) == 0
    assert names(export_dir) == sorted([f"{kept['id']}.csv", young, foreign])


async def test_a_job_whose_owner_went_while_it_ran_leaves_no_file(
    client: httpx.AsyncClient, user_headers: dict[str, str], settings: Settings, app: FastAPI
) -> None:
    owner = await user_id(client, user_headers)
    job = await ExportJob.create(owner_id=owner, format="csv")

    real_finish = export_files.finish

    async def gone_meanwhile(claimed: ExportJob, attempt: str, **changes: Any) -> bool:
        # The owner is deleted (its jobs cascade away) just as the file is renamed in.
        await ExportJob.filter(id=job.id).delete()
        return await real_finish(claimed, attempt, **changes)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("app.study.export_files.finish", gone_meanwhile)
        await tasks.run_export(job_context(settings), job_id=str(job.id))
    assert names(settings.EXPORT_DIR) == []
    del app


async def test_a_demoted_superuser_cannot_download_an_export_of_everyone(
    client: httpx.AsyncClient, app: FastAPI, user_headers: dict[str, str]
) -> None:
    await create_record(client, user_headers, title="someone else's")
    admin = await make_user(superuser=True)
    headers = await bearer_for(app, admin)
    job = await done_export(client, headers)
    assert job["rows"] == 1
    own = await done_export(client, user_headers)
    await User.filter(id=admin.id).update(is_superuser=False)
    headers = await bearer_for(app, await User.get(id=admin.id))
    response = await client.get(f"{EXPORTS}/{job['id']}/download", headers=headers)
    assert response.status_code == 403
    assert response.json() == {"detail": "Forbidden"}
    # An ordinary user's own export is unaffected.
    assert (await client.get(f"{EXPORTS}/{own['id']}/download", headers=user_headers)).is_success


async def test_a_job_of_everyone_queued_before_a_demotion_fails_when_it_runs(
    client: httpx.AsyncClient, user_headers: dict[str, str], settings: Settings
) -> None:
    await create_record(client, user_headers)
    admin = await make_user(superuser=True)
    job = await ExportJob.create(owner_id=admin.id, format="csv", all_owners=True)
    await User.filter(id=admin.id).update(is_superuser=False)
    await tasks.run_export(job_context(settings), job_id=str(job.id))
    failed = await ExportJob.get(id=job.id)
    assert (failed.status, failed.error) == (ExportStatus.FAILED, "no longer allowed")
    assert not written(settings.EXPORT_DIR)


@pytest.mark.parametrize("settings_overrides", [{"RATE_LIMIT_WRITE_PER_USER": 3}])
async def test_writes_past_the_per_user_limit_are_429(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    record = await create_record(client, user_headers)
    await client.patch(f"{URL}/{record['id']}", json={"minutes": 5}, headers=user_headers)
    await client.post(EXPORTS, json={"format": "csv"}, headers=user_headers)
    refused = [
        await client.post(
            URL, json={"subject": "x", "title": "y", "minutes": 1}, headers=user_headers
        ),
        await client.put(
            f"{URL}/{record['id']}",
            json={"subject": "x", "title": "y", "minutes": 1},
            headers=user_headers,
        ),
        await client.delete(f"{URL}/{record['id']}", headers=user_headers),
        await client.post(EXPORTS, json={"format": "csv"}, headers=user_headers),
    ]
    for response in refused:
        assert response.status_code == 429, response.text
        assert response.json() == {"detail": "TOO_MANY_REQUESTS"}
        assert int(response.headers["Retry-After"]) >= 1
    # Reading is not writing, and another user has a count of its own.
    assert (await client.get(f"{URL}/{record['id']}", headers=user_headers)).status_code == 200
    assert (await client.get(URL, headers=user_headers)).json()["total"] == 1
    await create_record(client, other_user_headers)
