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
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from settings import BASE_DIR
from tests.fixtures.edge import SERVER_NAME, children, nginx_process, render
from tests.fixtures.servers import free_port
from tests.fixtures.workers import QUEUE

BIN = Path(sys.executable).parent
REQUESTS = 60
# What `run.py db upgrade` prints: the migrations applied, or that there were none.
MIGRATION_OUTPUT = ("applied ", "database is up to date")


def program_files(target: Path, logs: Path) -> None:
    """The shipped program file as installed, with this checkout in place of /srv/studylog
    and a log directory of the test's: nothing else is changed (the commands are the shipped
    ones, found from supervisord's own working directory, which is not the checkout)."""
    assert BIN == BASE_DIR / ".venv" / "bin", "run the tests with the checkout's .venv (make test)"
    text = (BASE_DIR / "supervisor" / "studylog.conf").read_text(encoding="utf-8")
    text = text.replace("/srv/studylog", str(BASE_DIR)).replace("/var/log/studylog", str(logs))
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
        "MAIL_BACKEND": "none",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "CELERY_BROKER_URL": redis_url,
        "CELERY_QUEUE": QUEUE,
        "EXPORT_DIR": str(tmp_path / "exports"),
        "BEAT_SCHEDULE_FILE": str(tmp_path / "beat-schedule"),
        "ALLOWED_HOSTS": f"{SERVER_NAME},127.0.0.1",
    }
    with subprocess.Popen(
        [str(BIN / "supervisord"), "-c", str(conf)],
        env=env,
        cwd="/",  # as a system supervisord runs: relative commands would not be found
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


@pytest.mark.slow
def test_a_reload_with_hup_through_nginx_fails_no_request(
    supervised: tuple[Path, str, Path], tmp_path: Path
) -> None:
    """The documented deploy: migrations first, then `supervisorctl signal HUP` to the web
    program. gunicorn starts workers with the new code and lets the old ones finish: four
    clients sending requests through the shipped nginx config the whole time see no failure."""
    conf, base_url, _ = supervised
    gunicorn_port = int(base_url.rsplit(":", 1)[1])
    nginx_port = free_port()
    site = render(
        listen=f"127.0.0.1:{nginx_port}",
        upstream=f"127.0.0.1:{gunicorn_port}",
        server_names=SERVER_NAME,
    )
    master = web_pid(conf)
    deadline = time.monotonic() + 30
    while len(old_workers := set(children(master))) < 2:
        assert time.monotonic() < deadline, logs_of(tmp_path)
        time.sleep(0.1)
    stop = threading.Event()
    outcomes: list[int | str] = []

    def client(source: str) -> None:
        # Each from an address of its own, under nginx's 20 requests a second per address.
        with httpx.Client(
            base_url=f"http://127.0.0.1:{nginx_port}",
            headers={"Host": SERVER_NAME},
            transport=httpx.HTTPTransport(local_address=source),
            timeout=30,
        ) as http:
            while not stop.is_set():
                try:
                    outcomes.append(http.get("/api/v1/users/count").status_code)
                except httpx.HTTPError as exc:
                    outcomes.append(repr(exc))
                time.sleep(0.08)

    with nginx_process(tmp_path / "nginx", site, nginx_port):
        threads = [threading.Thread(target=client, args=(f"127.0.0.{20 + n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1)
            migrated = subprocess.run(
                [str(BIN / "python"), "run.py", "db", "upgrade"],
                cwd=BASE_DIR,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env={**os.environ, "DATABASE_URL": f"sqlite://{supervised[2]}"},
            )
            assert migrated.returncode == 0, migrated.stdout + migrated.stderr
            assert "signalled" in ctl(conf, "signal", "HUP", "studylog:studylog-web")
            deadline = time.monotonic() + 60
            while True:  # the old workers gone and two new ones serving
                now = set(children(master))
                if len(now) >= 2 and not now & old_workers:
                    break
                assert time.monotonic() < deadline, logs_of(tmp_path)
                time.sleep(0.1)
            time.sleep(1)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    assert web_pid(conf) == master  # the same master: the socket was never closed
    failed = [outcome for outcome in outcomes if outcome != 200]
    assert len(outcomes) > 50
    # The message is made only when a request failed: which side failed, nginx or gunicorn.
    nginx_log = tmp_path / "nginx" / "error.log"
    assert not failed, (
        f"{len(failed)} of {len(outcomes)} failed: {failed[:5]}\n--- nginx error.log\n"
        f"{nginx_log.read_text(errors='replace')[-4000:]}\n{logs_of(tmp_path)}"
    )
