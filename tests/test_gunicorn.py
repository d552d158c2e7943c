"""gunicorn.conf.py under a real gunicorn: two instances on one host keep apart."""

from __future__ import annotations

import gc
import json
import os
import runpy
import socket
import sys
import time
from contextlib import ExitStack, suppress
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


def _send_and_read(port: int, request: bytes, timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        with suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed `sock` (EOF or reset), without waiting."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


HEALTH = b"GET /api/health/check HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


@pytest.mark.slow
def test_a_worker_closes_sockets_that_send_no_head_and_answers_its_503_in_json(
    tmp_path: Path,
) -> None:
    """Idle sockets held a worker at its limit (every request 503 in plain text) until they
    left; now each is closed once it has not sent a whole head in time."""
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": f"sqlite://{tmp_path / 'bounds.db'}",
        "REDIS_URL": "",
        "SECRET_KEY": TEST_SECRET_KEY,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "WEB_LIMIT_CONCURRENCY": "10",
        "WEB_HEADER_TIMEOUT_SECONDS": "1",
    }
    log = tmp_path / "gunicorn.log"
    with ExitStack() as stack:
        server = stack.enter_context(server_process(GUNICORN, env, log))
        wait_until_up(f"http://127.0.0.1:{port}", server, log)
        idle = [
            stack.enter_context(socket.create_connection(("127.0.0.1", port))) for _ in range(12)
        ]
        time.sleep(0.3)  # accepted by the worker
        full = _send_and_read(port, HEALTH)
        head, _, body = full.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503"), full
        assert b"content-type: application/json" in head.lower()
        assert b"retry-after: 1" in head.lower()
        assert json.loads(body) == {"detail": "Service Unavailable"}

        time.sleep(1.5)
        assert all(_closed_by_server(sock) for sock in idle)
        assert _send_and_read(port, HEALTH).startswith(b"HTTP/1.1 200")

        # A head dribbled out a byte at a time is closed at the deadline, not kept alive by
        # each byte.
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as slow:
            with suppress(BrokenPipeError, ConnectionResetError):
                for byte in HEALTH[:-4]:
                    slow.send(bytes([byte]))
                    time.sleep(0.1)
                    if _closed_by_server(slow):
                        break
                    slow.setblocking(True)
            assert time.monotonic() - started < 3
            assert _closed_by_server(slow)

        # After an answer on a kept-alive connection, the next head is timed the same way.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as kept:
            kept.sendall(HEALTH.replace(b"Connection: close", b"Connection: keep-alive"))
            answer = b""
            while not answer.endswith(b"}"):  # the head and the JSON body, maybe apart
                answer += kept.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200")
            kept.sendall(b"GET /api/health/check HTTP/1.1\r\n")
            time.sleep(1.5)
            assert _closed_by_server(kept)
