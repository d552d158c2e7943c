"""CPU cost per request inside the app, without a server or a socket in the way.

    .venv/bin/python bench/asgi_cost.py [--requests 3000] [--concurrency 16] [--profile NAME]

Uses the database, Redis and settings of the environment (as `run.py` does): point
DATABASE_URL at a migrated PostgreSQL database holding the user below, as
bench/serving.py leaves `studylog_bench`. It logs in as BENCH_EMAIL, then calls the ASGI
app directly with the requests wrk sends (health, users/count, the list, the cursor page),
`--concurrency` at a time, and prints the wall time and this process's CPU time per
request. The CPU time is the app's own cost, which a gunicorn worker pays per request
whatever the database and the other processes on the machine do. With `--profile NAME`,
one cProfile of that request is written to asgi_cost.prof (`python -m pstats`), so a
change is measured here before wrk measures it end to end (bench/serving.py).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgi_lifespan import LifespanManager

from app.main import create_app

EMAIL = os.environ.get("BENCH_EMAIL", "bench@example.com")
PASSWORD = os.environ.get("BENCH_PASSWORD", "bench-password-123")
PATHS = {
    "health": ("/api/health/check", b""),
    "users/count": ("/api/v1/users/count", b""),
    "list (20)": ("/api/v1/study-records", b"page=1&size=20"),
    "cursor (20)": ("/api/v1/study-records/cursor", b"size=20"),
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


async def login(app: App) -> list[tuple[bytes, bytes]]:
    form = f"username={EMAIL}&password={PASSWORD}".encode()
    status, body = await call(
        app,
        "/api/v1/auth/jwt/login",
        b"",
        [(b"content-type", b"application/x-www-form-urlencoded")],
        method="POST",
        body=form,
    )
    if status != 200:
        raise SystemExit(f"login failed ({status}): {body[:200]!r}")
    import orjson  # pylint: disable=import-outside-toplevel

    token = orjson.loads(body)["access_token"]
    return [(b"authorization", f"Bearer {token}".encode())]


async def run(
    app: App, path: str, query: bytes, headers: list[tuple[bytes, bytes]], n: int, conc: int
) -> tuple[float, float]:
    """(wall, CPU of this process) microseconds per request, `conc` at a time."""
    remaining = n

    async def client() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            status, body = await call(app, path, query, headers)
            if status != 200:
                raise SystemExit(f"{path}: {status} {body[:200]!r}")

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client() for _ in range(conc)))
    return (
        (time.perf_counter() - started) / n * 1e6,
        (time.process_time() - cpu) / n * 1e6,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--profile", choices=list(PATHS), help="cProfile this one")
    parser.add_argument("--only", choices=list(PATHS), help="measure this one alone")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each; the least is printed (a busy machine)"
    )
    args = parser.parse_args()
    app = create_app()
    async with LifespanManager(app) as manager:
        asgi = manager.app
        auth = await login(asgi)
        for name, (path, query) in PATHS.items():
            if args.only and name != args.only:
                continue
            await run(asgi, path, query, auth, 200, args.concurrency)  # warm up
            runs = [
                await run(asgi, path, query, auth, args.requests, args.concurrency)
                for _ in range(args.repeat)
            ]
            wall, cpu = min(w for w, _ in runs), min(c for _, c in runs)
            print(f"{name:14} {wall:8.0f} us/request wall {cpu:8.0f} us CPU")
        if args.profile:
            path, query = PATHS[args.profile]
            profiler = cProfile.Profile()
            profiler.enable()
            await run(asgi, path, query, auth, args.requests, args.concurrency)
            profiler.disable()
            profiler.dump_stats("asgi_cost.prof")
            print(f"profile of {args.profile}: asgi_cost.prof")


if __name__ == "__main__":
    asyncio.run(main())
