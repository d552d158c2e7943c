"""A real supervisord runs `supervisor/studylog.conf`; a restart of the web program through
supervisorctl loses no audit entry of the requests answered before it; the job worker and
beat run beside it on a real broker (Redis)."""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from settings import BASE_DIR
from tests.fixtures.servers import free_port
from tests.fixtures.workers import QUEUE

BIN = Path(sys.executable).parent
REQUESTS = 60
# What `run.py db upgrade` prints: the migrations applied, or that there were none.
MIGRATION_OUTPUT = ("applied ", "database is up to date")


def program_files(target: Path, logs: Path) -> None:
    """The shipped program file, with this checkout, its venv and a log directory."""
    text = (BASE_DIR / "supervisor" / "studylog.conf").read_text(encoding="utf-8")
    text = text.replace("/srv/studylog", str(BASE_DIR)).replace("/var/log/studylog", str(logs))
    text = text.replace(".venv/bin/", f"{BIN}/")
    target.write_text(text, encoding="utf-8")


def supervisord_conf(tmp_path: Path) -> Path:
    programs = tmp_path / "programs"
    logs = tmp_path / "logs"
    programs.mkdir()
    logs.mkdir()
    program_files(programs / "studylog.conf", logs)
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        f"""
[unix_http_server]
file={tmp_path}/supervisor.sock

[supervisord]
logfile={logs}/supervisord.log
pidfile={tmp_path}/supervisord.pid
childlogdir={logs}
nodaemon=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{tmp_path}/supervisor.sock

[include]
files = {programs}/*.conf
""",
        encoding="utf-8",
    )
    return conf


def logs_of(tmp_path: Path) -> str:
    return "\n".join(
        f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}"
        for log in sorted((tmp_path / "logs").glob("*.log"))
    )


def ctl(conf: Path, *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "supervisorctl"), "-c", str(conf), *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    return done.stdout + done.stderr


def wait_ready(base_url: str, tmp_path: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/api/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the web program did not become ready:\n{logs_of(tmp_path)}")


def web_pid(conf: Path) -> int:
    status = ctl(conf, "pid", "studylog:studylog-web").strip()
    assert status.isdigit(), status
    return int(status)


def assert_migrated_before_each_start(web_log: Path, *, starts: int) -> None:
    """Each start of gunicorn follows its own `db upgrade`, run after the previous stop."""
    lines = web_log.read_text(errors="replace").splitlines()
    migrated = [n for n, line in enumerate(lines) if line.startswith(MIGRATION_OUTPUT)]
    started = [n for n, line in enumerate(lines) if "Starting gunicorn" in line]
    assert len(started) == starts, "\n".join(lines)
    for previous, start in zip([-1, *started], started, strict=False):
        assert any(previous < m < start for m in migrated), "\n".join(lines)


@pytest.fixture
def supervised(tmp_path: Path, redis_url: str) -> Iterator[tuple[Path, str, Path]]:
    """supervisord with the project's programs on SQLite: (conf, base URL, database)."""
    if not (BIN / "supervisord").exists():
        pytest.fail("supervisord is not installed beside this Python (dev extra)")
    database = tmp_path / "supervised.db"
    port = free_port()
    conf = supervisord_conf(tmp_path)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite://{database}",
        # Production settings refuse a weak key and a missing Redis.
        "REDIS_URL": redis_url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "CELERY_BROKER_URL": redis_url,
        "CELERY_QUEUE": QUEUE,
        "EXPORT_DIR": str(tmp_path / "exports"),
        "BEAT_SCHEDULE_FILE": str(tmp_path / "beat-schedule"),
    }
    with subprocess.Popen(
        [str(BIN / "supervisord"), "-c", str(conf)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as daemon:
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_ready(base_url, tmp_path)
            yield conf, base_url, database
        finally:
            ctl(conf, "shutdown")
            try:
                daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()


@pytest.mark.slow
def test_restart_through_supervisorctl_keeps_every_audit_entry(
    supervised: tuple[Path, str, Path], tmp_path: Path
) -> None:
    conf, base_url, database = supervised
    programs = ("studylog-web", "studylog-worker", "studylog-beat")
    deadline = time.monotonic() + 30  # the job programs count as started after 5 s
    while True:
        status = ctl(conf, "status")
        running = [p for p in programs if re.search(rf"studylog:{p}\s+RUNNING", status)]
        if len(running) == len(programs) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(running) == len(programs), f"{status}\n{logs_of(tmp_path)}"
    assert "maintenance" not in status  # the sleeping purge loop is beat's job now
    before = web_pid(conf)

    ids = [f"sv-{n}-{uuid.uuid4().hex[:8]}" for n in range(REQUESTS)]
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for n, rid in enumerate(ids):
            path = "/api/v1/users/count" if n % 2 else "/no/such/page"
            response = client.get(path, headers={"X-Request-ID": rid})
            assert response.status_code in {200, 404}
            assert response.headers["X-Request-ID"] == rid

    restarted = ctl(conf, "restart", "studylog:studylog-web")
    assert "started" in restarted, restarted
    wait_ready(base_url, tmp_path)
    assert web_pid(conf) != before

    with closing(sqlite3.connect(database)) as db:
        stored = {row[0] for row in db.execute("SELECT request_id FROM audit_log")}
    missing = set(ids) - stored
    assert not missing, f"{len(missing)} of {REQUESTS} lost:\n{logs_of(tmp_path)}"
    # Still serving after the restart, and migrations ran once per start, before gunicorn.
    assert httpx.get(f"{base_url}/api/v1/users/count", timeout=5).status_code == 200
    assert_migrated_before_each_start(tmp_path / "logs" / "web.log", starts=2)


def _bulk_records(database: Path, owner_headers: dict[str, str], base_url: str, count: int) -> int:
    """`count` more records for the caller, copied in SQL from one made through the API."""
    made = httpx.post(
        f"{base_url}/api/v1/study-records",
        json={"subject": "Bulk", "title": "row", "minutes": 5, "studied_on": "2026-01-02"},
        headers=owner_headers,
        timeout=10,
    )
    assert made.status_code == 201, made.text
    with closing(sqlite3.connect(database, timeout=30)) as db:
        db.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO study_record "
            "(owner_id, subject, title, minutes, studied_on, notes, created_at, updated_at) "
            "SELECT owner_id, subject, title || i, minutes, studied_on, notes, created_at, "
            "updated_at FROM study_record, n WHERE id = ?",
            (count, made.json()["id"]),
        )
        db.commit()
    return count + 1


@pytest.mark.slow
def test_stopping_the_worker_lets_the_running_job_finish(
    supervised: tuple[Path, str, Path], tmp_path: Path
) -> None:
    """`supervisorctl stop` sends the worker TERM (Celery's warm shutdown) and waits: the
    export running at that moment is finished and complete, not killed half-way."""
    conf, base_url, database = supervised
    email = f"stop-{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=base_url, timeout=10) as client:
        assert (
            client.post(
                "/api/v1/auth/register", json={"email": email, "password": "a long password"}
            ).status_code
            == 201
        )
        login = client.post(
            "/api/v1/auth/jwt/login", data={"username": email, "password": "a long password"}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        rows = _bulk_records(database, headers, base_url, 60_000)

        job = client.post("/api/v1/study-records/exports", json={"format": "csv"}, headers=headers)
        assert job.status_code == 202, job.text
        job_url = f"/api/v1/study-records/exports/{job.json()['id']}"
        deadline = time.monotonic() + 60
        while (status := client.get(job_url, headers=headers).json()["status"]) == "queued":
            assert time.monotonic() < deadline, logs_of(tmp_path)
            time.sleep(0.05)
        assert status == "running", f"finished before the stop; make it bigger: {status}"

        stopped = ctl(conf, "stop", "studylog:studylog-worker")  # returns once it has exited
        assert "stopped" in stopped, stopped
        done = client.get(job_url, headers=headers).json()
        assert done["status"] == "done", f"{done}\n{logs_of(tmp_path)}"
        assert done["rows"] == rows
        download = client.get(f"{job_url}/download", headers=headers)
        assert download.status_code == 200
        assert download.text.count("\n") == rows + 1  # the header and every record

    worker_log = (tmp_path / "logs" / "worker.log").read_text(errors="replace")
    assert "warm shutdown" in worker_log.lower(), worker_log[-3000:]
    supervisord_log = (tmp_path / "logs" / "supervisord.log").read_text(errors="replace")
    assert "SIGKILL" not in supervisord_log, supervisord_log[-3000:]
    assert "stopped: studylog-worker (exit status 0)" in supervisord_log, supervisord_log[-3000:]
