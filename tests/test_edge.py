"""The edge holds against one hostile client: deploy/nginx/studylog.conf in a real nginx in
front of a real gunicorn (2 workers), replaying the attacks of issue 15.

Each attacker writes from an address of its own on the loopback network (127.0.0.3 and up),
the honest client from 127.0.0.2, so nginx's per-address limits see them apart as they
would see two hosts.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, suppress
from pathlib import Path

import httpx
import pytest

from settings import BASE_DIR
from tests.conftest import TEST_SECRET_KEY
from tests.fixtures.edge import SERVER_NAME, Edge, edge, nginx_process, render, rss_kib
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.slow

HONEST = "127.0.0.2"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    tmp = tmp_path_factory.mktemp("edge")
    database = tmp / "edge.db"
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": f"sqlite://{database}",
        "REDIS_URL": "",
        "SECRET_KEY": TEST_SECRET_KEY,
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": f"{SERVER_NAME},127.0.0.1",
        "TRUSTED_PROXIES": "127.0.0.1",
        "AUDIT_FLUSH_INTERVAL_MS": "50",
        "METRICS_ENABLED": "true",
    }
    subprocess.run(
        [sys.executable, "run.py", "db", "upgrade"], cwd=BASE_DIR, env=env, check=True, timeout=60
    )
    with edge(tmp, env) as running:
        yield running


def honest_client(live: Edge) -> httpx.Client:
    return httpx.Client(
        base_url=live.url,
        headers={"Host": SERVER_NAME},
        transport=httpx.HTTPTransport(local_address=HONEST),
        timeout=5,
    )


def connect(port: int, source: str) -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def read_all(sock: socket.socket) -> bytes:
    """What the server sent until it closed (a reset counts as closed)."""
    chunks = []
    with suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_and_body(answer: bytes) -> tuple[int, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


# --- 1. header memory ----------------------------------------------------------------------


def stream_header_lines(port: int, source: str, total: int) -> tuple[int, bytes]:
    """Header lines of 1,000 bytes until `total` bytes are sent or the server answers or
    cuts the connection: (bytes sent, what the server answered)."""
    line = b"X-Pad: " + b"p" * 991 + b"\r\n"
    chunk = line * 64
    sent = 0
    with closing(connect(port, source)) as sock:
        try:
            sock.sendall(f"GET /api/v1/users/count HTTP/1.1\r\nHost: {SERVER_NAME}\r\n".encode())
            while sent < total:
                sock.sendall(chunk)
                sent += len(chunk)
                if select.select([sock], [], [], 0)[0]:
                    break  # answered: stop, as any client would
        except (BrokenPipeError, ConnectionResetError):
            return sent, b""
        return sent, read_all(sock)


def test_forty_mb_of_header_lines_are_refused_and_workers_stay_flat(live: Edge) -> None:
    workers = live.worker_pids()
    before = {pid: rss_kib(pid) for pid in workers}
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(
                lambda source: stream_header_lines(live.nginx_port, source, 10 * MIB),
                ["127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"],
            )
        )
    for sent, answer in results:
        # nginx answers once 4 x 8 KiB are read; what was sent beyond that sat in socket
        # buffers, and the stream stopped long before its 10 MiB.
        assert sent < 5 * MIB, sent
        if answer:  # it may also have reset the connection before the answer was read
            status, body = status_and_body(answer)
            assert status == 400
            assert json.loads(body) == {"detail": "Bad Request"}
    growth = {pid: rss_kib(pid) - before[pid] for pid in workers}
    assert all(kib < 5 * 1024 for kib in growth.values()), growth
    with honest_client(live) as client:
        assert client.get("/api/health/check").status_code == 200


def test_header_lines_straight_at_a_worker_are_cut_at_32_kib(live: Edge) -> None:
    # Without nginx (a worker reachable directly), the worker bounds what it holds itself.
    workers = live.worker_pids()
    before = {pid: rss_kib(pid) for pid in workers}
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(
                lambda source: stream_header_lines(live.gunicorn_port, source, 10 * MIB),
                [HONEST] * 4,
            )
        )
    for sent, answer in results:
        assert sent < 5 * MIB, sent
        if answer:
            status, body = status_and_body(answer)
            assert status == 431
            assert json.loads(body) == {"detail": "Request Header Fields Too Large"}
    growth = {pid: rss_kib(pid) - before[pid] for pid in workers}
    assert all(kib < 5 * 1024 for kib in growth.values()), growth
    with httpx.Client(base_url=live.direct_url, timeout=5) as client:
        assert client.get("/api/health/check").status_code == 200


# --- 2. slowloris --------------------------------------------------------------------------

SLOW_PER_KIND = 100


async def hold(port: int, source: str, opening: bytes) -> float:
    """Opens a connection, sends `opening` and nothing more: seconds until the server closed."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        writer.write(opening)
        await writer.drain()
        with suppress(ConnectionResetError):
            while await reader.read(65536):
                pass
        return time.monotonic() - started
    finally:
        writer.close()


async def honest_requests(live: Edge, until: asyncio.Event) -> list[float]:
    """Requests one after another while the attack lasts: how long each took."""
    durations = []
    transport = httpx.AsyncHTTPTransport(local_address=HONEST)
    async with httpx.AsyncClient(
        base_url=live.url, headers={"Host": SERVER_NAME}, transport=transport, timeout=5
    ) as client:
        while not until.is_set() or not durations:
            started = time.monotonic()
            response = await client.get("/api/v1/users/count")
            assert response.status_code == 200, response.text
            durations.append(time.monotonic() - started)
            await asyncio.sleep(0.05)
    return durations


async def test_slow_clients_are_closed_while_others_are_answered(live: Edge) -> None:
    host = f"Host: {SERVER_NAME}\r\n".encode()
    openings = {
        "idle": b"",
        "half a header": b"GET /api/v1/users/count HTTP/1.1\r\n" + host + b"X-Slow: ",
        "half a body": b"POST /api/v1/auth/register HTTP/1.1\r\n"
        + host
        + b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        + b'{"email": "',
    }
    attack = [
        hold(live.nginx_port, f"127.0.0.{10 + i}", opening)
        for i, opening in enumerate(openings.values())
        for _ in range(SLOW_PER_KIND)
    ]
    done = asyncio.Event()
    honest = asyncio.create_task(honest_requests(live, done))
    # Each connection is closed within its timeout (1 s in the test's config) plus a margin.
    held = await asyncio.wait_for(asyncio.gather(*attack), timeout=15)
    done.set()
    durations = await honest
    slowest = {
        kind: max(held[i * SLOW_PER_KIND : (i + 1) * SLOW_PER_KIND])
        for i, kind in enumerate(openings)
    }
    # Without nginx's timeouts none of them would ever be closed. Idle and half-sent heads
    # go after the test's 1 s; half-sent bodies after 1 s, or, for those past the address's
    # 20 connections (answered 429 at once), after nginx's 5 s lingering close.
    assert slowest["idle"] < 3, slowest
    assert slowest["half a header"] < 3, slowest
    assert slowest["half a body"] < 8, slowest
    assert len(durations) >= 5
    assert max(durations) < 2, durations


# --- 3. Host --------------------------------------------------------------------------------


def raw_get(port: int, source: str, path: str, host: str | None) -> bytes:
    request = f"GET {path} HTTP/1.1\r\n"
    request += f"Host: {host}\r\n" if host is not None else ""
    with closing(connect(port, source)) as sock:
        sock.sendall(f"{request}Connection: close\r\n\r\n".encode())
        return read_all(sock)


def test_nginx_answers_nothing_to_a_stranger_host(live: Edge) -> None:
    for host in ("evil.example", "127.0.0.1", "", None):
        assert raw_get(live.nginx_port, "127.0.0.7", "/api/v1/study-records/", host) == b""
    status, _ = status_and_body(
        raw_get(live.nginx_port, "127.0.0.7", "/api/health/check", SERVER_NAME)
    )
    assert status == 200


def test_redirects_through_nginx_are_relative(live: Edge) -> None:
    with honest_client(live) as client:
        response = client.get("/api/v1/study-records/")
    assert response.status_code == 307
    # Relative, so a client of the TLS front is not sent to http://.
    assert response.headers["location"] == "/api/v1/study-records"


def test_a_direct_hit_with_a_stranger_host_is_400_without_a_redirect(live: Edge) -> None:
    answer = raw_get(live.gunicorn_port, HONEST, "/api/v1/study-records/", "evil.example")
    status, body = status_and_body(answer)
    assert status == 400
    assert json.loads(body) == {"detail": "Invalid host header"}
    assert b"evil.example" not in answer


# --- the client's address -------------------------------------------------------------------


def audited_client_ip(database: Path, request_id: str) -> str | None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with closing(sqlite3.connect(database)) as db:
            row = db.execute(
                "SELECT client_ip FROM audit_log WHERE request_id = ?", (request_id,)
            ).fetchone()
        if row:
            return str(row[0])
        time.sleep(0.05)
    raise AssertionError(f"no audit entry for {request_id}")


def test_the_app_sees_the_address_nginx_saw_not_a_forged_one(live: Edge) -> None:
    with honest_client(live) as client:
        response = client.get(
            "/api/v1/users/count",
            headers={"X-Forwarded-For": "6.6.6.6", "X-Request-ID": "edge-forwarded-for"},
        )
    assert response.status_code == 200
    assert audited_client_ip(live.database, "edge-forwarded-for") == HONEST


def test_one_address_over_the_rate_gets_429_json_and_others_do_not(live: Edge) -> None:
    flood = httpx.Client(
        base_url=live.url,
        headers={"Host": SERVER_NAME},
        transport=httpx.HTTPTransport(local_address="127.0.0.8"),
        timeout=5,
    )
    with flood, honest_client(live) as client:
        statuses = [flood.get("/api/health/check") for _ in range(80)]
        refused = [r for r in statuses if r.status_code == 429]
        assert refused, [r.status_code for r in statuses]
        assert refused[0].json() == {"detail": "TOO_MANY_REQUESTS"}
        assert refused[0].headers["retry-after"] == "1"
        assert client.get("/api/health/check").status_code == 200


# --- answers nginx gives itself ---------------------------------------------------------------


def test_a_request_line_over_8_kib_is_414_json(live: Edge) -> None:
    """Refused before its Host is read (so by the default server): the API's 414, not an
    HTML 500 from a redirect to a named location with no URI."""
    for path in ("/api/v1/" + "a" * 8500, "/api/health/check?q=" + "b" * 9000):
        status, body = status_and_body(raw_get(live.nginx_port, "127.0.0.8", path, SERVER_NAME))
        assert (status, json.loads(body)) == (414, {"detail": "URI Too Long"})


def test_a_garbled_request_line_gets_no_answer(live: Edge) -> None:
    with closing(connect(live.nginx_port, "127.0.0.8")) as sock:
        sock.sendall(b"\x16\x03\x01 garbage\r\n\r\n")
        assert read_all(sock) == b""


def test_nginx_answers_503_json_while_gunicorn_is_down(tmp_path: Path) -> None:
    nginx_port = free_port()
    site = render(
        listen=f"127.0.0.1:{nginx_port}",
        upstream=f"127.0.0.1:{free_port()}",  # nothing listens there
        server_names=SERVER_NAME,
    )
    with nginx_process(tmp_path / "nginx", site, nginx_port):
        response = httpx.get(
            f"http://127.0.0.1:{nginx_port}/api/health/check",
            headers={"Host": SERVER_NAME},
            timeout=10,
        )
    assert response.status_code == 503
    assert response.json() == {"detail": "Service Unavailable"}
    assert response.headers["retry-after"] == "1"


# --- /metrics --------------------------------------------------------------------------


def test_metrics_are_refused_through_nginx_and_served_to_the_host(live: Edge) -> None:
    """Anyone reaching nginx got the service's metrics; now only a scraper that reaches
    gunicorn itself does."""
    for path in ("/metrics", "/metrics/", "//metrics", "/%6Detrics", "/metrics?name[]=x"):
        with closing(connect(live.nginx_port, "127.0.0.3")) as sock:
            request = f"GET {path} HTTP/1.1\r\nHost: {SERVER_NAME}\r\nConnection: close\r\n\r\n"
            sock.sendall(request.encode())
            status, body = status_and_body(read_all(sock))
        assert status == 404, path
        assert json.loads(body) == {"detail": "Not Found"}, path
    direct = httpx.get(f"{live.direct_url}/metrics", headers={"Host": "127.0.0.1"}, timeout=5)
    assert direct.status_code == 200
    assert "studylog_http_requests_total" in direct.text
