"""CPU cost per request inside the app, without a server or a socket in the way.

    .venv/bin/python bench/asgi_cost.py [--requests 3000] [--concurrency 16]
        [--only NAME ...] [--profile NAME]

Uses the database, Redis and settings of the environment (as `run.py` does): point
DATABASE_URL at a migrated PostgreSQL database (bench/serving.py leaves `studylog_bench`).
It registers BENCH_EMAIL and a second account for the writes when they are new, logs in,
then calls the ASGI app directly with the requests wrk sends (health, users/count, the
list, the cursor page, a create as the other account, a password login), `--concurrency`
at a time. The rate limits the rows would pass are raised (as bench/serving.py does) unless
set in the environment. It prints per request the wall time, this process's CPU time and
the event loop thread's CPU time. The CPU time is the app's own cost, which a gunicorn
worker pays per request whatever the database and the other processes on the machine do;
the loop's leaves out the threads (a login's Argon2 verify runs on one of its own), so it
is what a login costs the event loop besides the hash. With `--profile NAME`, one cProfile
of that request (timed by the loop thread's CPU clock, so time spent waiting is left out)
is written to asgi_cost.prof (`python -m pstats`), so a change is measured here before
wrk measures it end to end (bench/serving.py).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from asgi_lifespan import LifespanManager

ROOT = Path(__file__).resolve().parent.parent

EMAIL = os.environ.get("BENCH_EMAIL", "bench@example.com")
WRITER_EMAIL = os.environ.get("BENCH_WRITER_EMAIL", "bench-writer@example.com")
PASSWORD = os.environ.get("BENCH_PASSWORD", "bench-password-123")
# What the rows would pass: a login a request, thousands of writes by one user, and the
# registrations of every run.
RAISED_LIMITS = (
    "RATE_LIMIT_REGISTER_PER_IP",
    "RATE_LIMIT_REGISTER_PER_EMAIL",
    "RATE_LIMIT_LOGIN_PER_IP",
    "RATE_LIMIT_LOGIN_PER_EMAIL",
    "RATE_LIMIT_LOGIN_PER_EMAIL_IP",
    "RATE_LIMIT_WRITE_PER_USER",
)
JSON = (b"content-type", b"application/json")
FORM = (b"content-type", b"application/x-www-form-urlencoded")


@dataclass(frozen=True)
class Row:
    """One request the bench repeats, and the status it must answer."""

    path: str
    query: bytes = b""
    method: str = "GET"
    body: bytes = b""
    content_type: tuple[bytes, bytes] | None = None
    status: int = 200
    as_writer: bool = False  # sent with the second account's token
    anonymous: bool = False


ROWS = {
    "health": Row("/api/health/check"),
    "users/count": Row("/api/v1/users/count"),
    "list (20)": Row("/api/v1/study-records", b"page=1&size=20"),
    "cursor (20)": Row("/api/v1/study-records/cursor", b"size=20"),
    # As bench/serving.py's create rows: another user, onto a day and subject it has.
    "create": Row(
        "/api/v1/study-records",
        method="POST",
        body=b'{"subject": "Bench", "title": "wrk", "minutes": 25, "studied_on": "2026-11-01"}',
        content_type=JSON,
        status=201,
        as_writer=True,
    ),
    "login": Row(
        "/api/v1/auth/jwt/login",
        method="POST",
        body=f"username={EMAIL}&password={PASSWORD}".encode(),
        content_type=FORM,
        anonymous=True,
    ),
}

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def call(
    app: App,
    path: str,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    *,
    method: str = "GET",
    body: bytes = b"",
) -> tuple[int, bytes]:
    """One request through the app; its status and body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8101"), (b"user-agent", b"asgi-cost"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8101),
    }
    if body:
        scope["headers"].append((b"content-length", str(len(body)).encode()))
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def login(app: App, email: str) -> list[tuple[bytes, bytes]]:
    """The account's bearer header; registers the account first when it is new."""
    registration = orjson.dumps({"email": email, "password": PASSWORD})
    status, body = await call(
        app, "/api/v1/auth/register", b"", [JSON], method="POST", body=registration
    )
    if status not in (201, 400):
        raise SystemExit(f"register failed ({status}): {body[:200]!r}")
    form = f"username={email}&password={PASSWORD}".encode()
    status, body = await call(app, "/api/v1/auth/jwt/login", b"", [FORM], method="POST", body=form)
    if status != 200:
        raise SystemExit(f"login failed ({status}): {body[:200]!r}")
    token = orjson.loads(body)["access_token"]
    return [(b"authorization", f"Bearer {token}".encode())]


async def run(
    app: App, row: Row, headers: list[tuple[bytes, bytes]], n: int, conc: int
) -> tuple[float, float, float]:
    """(wall, CPU of this process, CPU of the event loop's thread) microseconds per
    request, `conc` at a time."""
    remaining = n
    if row.content_type is not None:
        headers = [*headers, row.content_type]

    async def client() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            status, body = await call(
                app, row.path, row.query, headers, method=row.method, body=row.body
            )
            if status != row.status:
                raise SystemExit(f"{row.method} {row.path}: {status} {body[:200]!r}")

    started, cpu, loop_cpu = time.perf_counter(), time.process_time(), time.thread_time()
    await asyncio.gather(*(client() for _ in range(conc)))
    return (
        (time.perf_counter() - started) / n * 1e6,
        (time.process_time() - cpu) / n * 1e6,
        (time.thread_time() - loop_cpu) / n * 1e6,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--only", nargs="+", choices=list(ROWS), help="these rows only")
    parser.add_argument("--profile", choices=list(ROWS), help="cProfile this one")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each; the least is printed (a busy machine)"
    )
    args = parser.parse_args()
    for name in RAISED_LIMITS:
        os.environ.setdefault(name, str(10**9))
    # The tree this script is in: the project is installed editable from another one (the
    # main worktree), whose `app` would otherwise be measured.
    sys.path.insert(0, str(ROOT))
    from app.main import create_app  # pylint: disable=import-outside-toplevel  # after the env

    app = create_app()
    async with LifespanManager(app) as manager:
        asgi = manager.app
        auth = {False: await login(asgi, EMAIL), True: await login(asgi, WRITER_EMAIL)}
        for name in args.only or ROWS:
            row = ROWS[name]
            headers = [] if row.anonymous else auth[row.as_writer]
            # Logins hash: a tenth as many (each costs tens of milliseconds of a thread).
            n = max(args.requests // 10, 50) if name == "login" else args.requests
            await run(asgi, row, headers, min(n, 200), args.concurrency)  # warm up
            runs = [await run(asgi, row, headers, n, args.concurrency) for _ in range(args.repeat)]
            wall, cpu, loop_cpu = (min(run_[i] for run_ in runs) for i in range(3))
            print(
                f"{name:14} {wall:8.0f} us/request wall {cpu:8.0f} us CPU "
                f"{loop_cpu:8.0f} us on the loop"
            )
        if args.profile:
            row = ROWS[args.profile]
            headers = [] if row.anonymous else auth[row.as_writer]
            n = max(args.requests // 10, 50) if args.profile == "login" else args.requests
            profiler = cProfile.Profile(time.thread_time)
            profiler.enable()
            await run(asgi, row, headers, n, args.concurrency)
            profiler.disable()
            profiler.dump_stats("asgi_cost.prof")
            print(f"profile of {args.profile}: asgi_cost.prof")


if __name__ == "__main__":
    asyncio.run(main())
