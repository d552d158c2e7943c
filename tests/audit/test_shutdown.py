"""A real gunicorn with uvicorn workers: a request answered before SIGTERM is in the table after."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from settings import BASE_DIR
from tests.conftest import TEST_SECRET_KEY
from tests.fixtures.servers import free_port, server_process, wait_until_up

BURST = 300
URLS = ("/nowhere", "/api/v1/users/me", "/api/v1/users/count")


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
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "asgi:app"]
    with server_process(gunicorn, env, log) as server:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_up(base_url, server, log)
        ids = asyncio.run(burst(base_url))
        with closing(sqlite3.connect(database)) as db:
            assert db.execute("SELECT COUNT(*) FROM audit_log").fetchone() == (0,)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0, log.read_text()

    with closing(sqlite3.connect(database)) as db:
        stored = {row[0] for row in db.execute("SELECT request_id FROM audit_log")}
    missing = set(ids) - stored
    assert not missing, f"{len(missing)} of {BURST} requests lost:\n{log.read_text()}"
    assert "queue written at shutdown" in log.read_text()
    # gunicorn closing a socket uvicorn already closed is no news (issue 28 item 7).
    assert "Bad file descriptor" not in log.read_text(), log.read_text()[-3000:]
