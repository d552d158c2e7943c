"""A real gunicorn with uvicorn workers: a request answered before SIGTERM is in the table after."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from settings import BASE_DIR
from tests.conftest import TEST_SECRET_KEY

BURST = 300
URLS = ("/nowhere", "/api/v1/users/me", "/api/v1/users/count")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, f"the server exited:\n{log.read_text()}"
        try:
            if httpx.get(f"{base_url}/api/health/check", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the server did not come up:\n{log.read_text()}")


async def burst(base_url: str) -> list[str]:
    """BURST requests over 20 connections (so both workers get some); their request ids."""
    ids = [f"burst-{n}-{uuid.uuid4().hex[:8]}" for n in range(BURST)]
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=10) as client:
        responses = await asyncio.gather(
            *(
                client.get(URLS[n % len(URLS)], headers={"X-Request-ID": rid})
                for n, rid in enumerate(ids)
            )
        )
    assert {r.status_code for r in responses} <= {200, 401, 404}
    return ids


@pytest.mark.slow
def test_every_request_answered_before_sigterm_is_in_the_table(tmp_path: Path) -> None:
    database = tmp_path / "shutdown.db"
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": f"sqlite://{database}",
        "REDIS_URL": "",
        "SECRET_KEY": TEST_SECRET_KEY,
        "LOG_LEVEL": "INFO",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        # Nothing is written before the stop: whatever is in the table, the stop wrote.
        "AUDIT_FLUSH_INTERVAL_MS": "60000",
        "AUDIT_BATCH_SIZE": "10000",
    }
    subprocess.run(
        [sys.executable, "run.py", "db", "upgrade"], cwd=BASE_DIR, env=env, check=True, timeout=60
    )
    log = tmp_path / "gunicorn.log"
    with (
        log.open("wb") as out,
        subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "asgi:app"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        ) as server,
    ):
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_until_up(base_url, server, log)
            ids = asyncio.run(burst(base_url))
            with closing(sqlite3.connect(database)) as db:
                assert db.execute("SELECT COUNT(*) FROM audit_log").fetchone() == (0,)
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=30) == 0, log.read_text()
        finally:
            if server.poll() is None:
                server.kill()

    with closing(sqlite3.connect(database)) as db:
        stored = {row[0] for row in db.execute("SELECT request_id FROM audit_log")}
    missing = set(ids) - stored
    assert not missing, f"{len(missing)} of {BURST} requests lost:\n{log.read_text()}"
    assert "queue written at shutdown" in log.read_text()
