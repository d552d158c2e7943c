"""gunicorn.conf.py under a real gunicorn: two instances on one host keep apart."""

from __future__ import annotations

import gc
import json
import os
import runpy
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET_KEY
from tests.fixtures.servers import free_port, server_process, wait_until_up

GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "asgi:app"]


def control_sockets(log: Path) -> list[str]:
    """The control socket paths gunicorn reported (its log is JSON lines in this env)."""
    messages = [json.loads(line).get("message", "") for line in log.read_text().splitlines()]
    prefix = "Control socket listening at "
    return [m.removeprefix(prefix) for m in messages if m.startswith(prefix)]


@pytest.mark.slow
def test_two_instances_have_their_own_control_socket(tmp_path: Path) -> None:
    sockets = []
    with ExitStack() as stack:
        for name in ("one", "two"):
            port = free_port()
            env = {
                **os.environ,
                "APP_ENV": "test",
                "DATABASE_URL": f"sqlite://{tmp_path / name}.db",
                "REDIS_URL": "",
                "SECRET_KEY": TEST_SECRET_KEY,
                "GUNICORN_BIND": f"127.0.0.1:{port}",
                "WEB_CONCURRENCY": "1",
            }
            log = tmp_path / f"{name}.log"
            server = stack.enter_context(server_process(GUNICORN, env, log))
            wait_until_up(f"http://127.0.0.1:{port}", server, log)
            sockets.append(log)
        for log in sockets:
            text = log.read_text()
            # uvicorn's start-up lines carry a coloured copy (`color_message`): JSON logs
            # hold plain text only, whether escaped or raw.
            assert "Started server process" in text
            assert "\\u001b" not in text
            assert "\x1b" not in text
        found = [control_sockets(log) for log in sockets]
        assert all(len(paths) == 1 for paths in found), found
        first, second = found[0][0], found[1][0]
        assert first != second
        assert not first.startswith(str(Path.home()))
        # the second start left the first one's socket in place
        assert Path(first).exists()
        assert Path(second).exists()


@pytest.mark.slow
def test_a_worker_freezes_what_it_built_before_serving() -> None:
    """gunicorn.conf.py's post_worker_init moves the imported app out of the collector's
    reach: full collections then walk only what requests made (they stopped the loop for
    90-140 ms each under load when they walked everything)."""
    config = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        config["post_worker_init"](None)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
