"""Serving benchmark: the service under gunicorn beside this machine's bare limit.

Run from a clone (PostgreSQL, Redis and wrk on this machine; `apt-get install wrk`):

    .venv/bin/python bench/serving.py            # about 4 minutes
    .venv/bin/python bench/serving.py --duration 5 --soak 10   # quicker look

It creates a scratch PostgreSQL database, migrates it, starts the service with gunicorn
(2 uvicorn workers, Redis, audit trail on, APP_ENV=production) and a bare Starlette +
asyncpg app under the same gunicorn, drives both with wrk at 64 and 256 connections, soaks
the authenticated list at 256 connections, and prints one table with the ratios to the
bare limit, the targets of issue 7, and each worker's memory afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
EMAIL = "bench@example.com"
PASSWORD = "bench-password-123"  # noqa: S105  (a throwaway account in a scratch database)


@dataclass
class Result:
    name: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_2xx: int
    limit: str = ""
    ratio: float | None = None


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    factor = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]
    return float(number) * factor


def parse_wrk(output: str) -> tuple[float, float, float, int, int]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    return rps, p50, p99, *failures(output)


def failures(output: str) -> tuple[int, int]:
    """(socket errors of every kind, non-2xx answers) from wrk's report."""
    errors = 0
    if found := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors = sum(int(n) for n in found.groups())
    non_2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", output)) else 0
    return errors, non_2xx


def add_service_options(parser: argparse.ArgumentParser) -> None:
    """Where the scratch database and Redis are (shared with bench/load.py)."""
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    )


def wrk(
    url: str,
    *,
    connections: int,
    duration: int,
    script: Path | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[float, float, float, int, int]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    for key, value in (headers or {}).items():
        command += ["-H", f"{key}: {value}"]
    if script:
        command += ["-s", str(script)]
    done = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=duration + 60
    )
    return parse_wrk(done.stdout)


def lua_post(path: Path, body: str, content_type: str, token: str | None = None) -> Path:
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = [[{body}]]",
        f'wrk.headers["Content-Type"] = "{content_type}"',
    ]
    if token:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
    path.write_text("\n".join(lines) + "\n")
    return path


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def recreate_database(server_url: str, name: str) -> None:
    parts = urlsplit(server_url)
    conn = await asyncpg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        database="postgres",
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"server did not come up:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def worker_rss_mb(master_pid: int) -> list[float]:
    sizes = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        ppid = int(re.search(r"PPid:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
        if ppid == master_pid and (rss := re.search(r"VmRSS:\s+(\d+) kB", text)):
            sizes.append(int(rss.group(1)) / 1024)
    return sorted(sizes)


def prepare_service(base: str, records: int) -> str:
    """Registers the bench user, fills its records; returns an access token."""
    with httpx.Client(base_url=base, timeout=30) as client:
        response = client.post("/api/v1/auth/register", json={"email": EMAIL, "password": PASSWORD})
        assert response.status_code in (201, 400), response.text
        token = client.post(
            "/api/v1/auth/jwt/login", data={"username": EMAIL, "password": PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        for n in range(records):
            created = client.post(
                "/api/v1/study-records",
                headers=headers,
                json={
                    "subject": f"Subject {n % 7}",
                    "title": f"Session {n}",
                    "minutes": 30 + n % 90,
                    "studied_on": f"2026-{1 + n % 10:02d}-{1 + n % 28:02d}",
                },
            )
            assert created.status_code == 201, created.text
    return token


def print_table(results: list[Result]) -> None:
    header = (
        f"{'endpoint':34} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'non-2xx':>7}  ratio to limit"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = f"{r.ratio:.2f} x {r.limit}" if r.ratio is not None else ""
        print(
            f"{r.name:34} {r.connections:5d} {r.rps:9.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} "
            f"{r.errors:6d} {r.non_2xx:7d}  {ratio}"
        )


@dataclass
class Targets:
    service_url: str
    bare_url: str
    auth: dict[str, str]
    create_lua: Path
    login_lua: Path


def measure(t: Targets, connections: int, duration: int) -> list[Result]:
    """One wrk run per endpoint at this many connections, with the ratios to the limits."""
    run = {"connections": connections, "duration": duration}
    hello = Result("bare: hello", connections, *wrk(f"{t.bare_url}/hello", **run))
    page = Result("bare: asyncpg page", connections, *wrk(f"{t.bare_url}/page", **run))
    health = Result(
        "/api/health/check",
        connections,
        *wrk(f"{t.service_url}/api/health/check", **run),
        limit="bare hello",
    )
    health.ratio = health.rps / hello.rps
    count = Result(
        "/api/v1/users/count",
        connections,
        *wrk(f"{t.service_url}/api/v1/users/count", **run),
        limit="health",
    )
    count.ratio = count.rps / health.rps
    listing = Result(
        "study-records list (auth, 20)",
        connections,
        *wrk(f"{t.service_url}/api/v1/study-records?page=1&size=20", headers=t.auth, **run),
        limit="bare page",
    )
    listing.ratio = listing.rps / page.rps
    create = Result(
        "study-records create",
        connections,
        *wrk(f"{t.service_url}/api/v1/study-records", script=t.create_lua, **run),
    )
    return [hello, page, health, count, listing, create]


def measure_login(t: Targets, duration: int) -> list[Result]:
    """Last: wrk leaves queued password hashes behind, which would slow what follows."""
    return [
        Result(
            "auth/jwt/login",
            connections,
            *wrk(
                f"{t.service_url}/api/v1/auth/jwt/login",
                script=t.login_lua,
                connections=connections,
                duration=duration,
            ),
        )
        for connections in (64, 256)
    ]


def verdicts(results: list[Result], memory: list[float]) -> dict[str, bool]:
    by = {(r.name, r.connections): r for r in results}

    def ratios_at_least(name: str, minimum: float) -> bool:
        return all((by[(name, c)].ratio or 0) >= minimum for c in (64, 256))

    return {
        "health >= 0.5 x bare hello": ratios_at_least("/api/health/check", 0.5),
        "list (audit on) >= 0.5 x bare asyncpg page": ratios_at_least(
            "study-records list (auth, 20)", 0.5
        ),
        "users/count >= 0.7 x health": ratios_at_least("/api/v1/users/count", 0.7),
        "zero errors and non-2xx at 256 connections (service)": all(
            r.errors == 0 and r.non_2xx == 0
            for r in results
            if r.connections == 256 and not r.name.startswith("bare:")
        ),
        "each worker under 150 MB": bool(memory) and max(memory) < 150,
    }


def environments(args: argparse.Namespace, db_url: str) -> tuple[dict[str, str], dict[str, str]]:
    unlimited = str(10**9)
    service_env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": db_url,
        "REDIS_URL": args.redis,
        "WEB_CONCURRENCY": "2",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_BIND": "127.0.0.1:8101",
        **dict.fromkeys(
            (
                "RATE_LIMIT_LOGIN_PER_IP",
                "RATE_LIMIT_LOGIN_PER_EMAIL",
                "RATE_LIMIT_REGISTER_PER_IP",
                "RATE_LIMIT_REGISTER_PER_EMAIL",
            ),
            unlimited,
        ),
    }
    parts = urlsplit(db_url)
    bare_env = {
        **os.environ,
        "BARE_POSTGRES_DSN": (
            f"postgresql://{parts.username}@{parts.hostname}:{parts.port or 5432}{parts.path}"
        ),
        "BARE_OWNER_EMAIL": EMAIL,
    }
    return service_env, bare_env


def main() -> int:
    parser = argparse.ArgumentParser(description="Serving benchmark (see module docstring).")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--soak", type=int, default=30, help="seconds of the 256-connection soak")
    parser.add_argument("--records", type=int, default=200, help="study records of the user")
    add_service_options(parser)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")

    db_url = with_database(args.postgres, "studylog_bench")
    asyncio.run(recreate_database(args.postgres, "studylog_bench"))
    subprocess.run(["redis-cli", "-u", args.redis, "flushdb"], check=True, capture_output=True)
    service_env, bare_env = environments(args, db_url)
    subprocess.run([PYTHON, "run.py", "db", "upgrade"], cwd=ROOT, env=service_env, check=True)
    tmp = Path(tempfile.mkdtemp(prefix="studylog-bench-"))
    service = start(
        [GUNICORN, "-c", "gunicorn.conf.py", "asgi:app"], service_env, tmp / "service.log"
    )
    bare = None
    results: list[Result] = []
    try:
        service_url = "http://127.0.0.1:8101"
        wait_until_up(f"{service_url}/api/health/ready", service, tmp / "service.log")
        token = prepare_service(service_url, args.records)
        bare = start(
            [
                GUNICORN,
                "-k",
                "uvicorn_worker.UvicornWorker",
                "-w",
                "2",
                "-b",
                "127.0.0.1:8102",
                "--chdir",
                str(ROOT / "bench"),
                "bare_app:app",
            ],
            bare_env,
            tmp / "bare.log",
        )
        wait_until_up("http://127.0.0.1:8102/hello", bare, tmp / "bare.log")
        targets = Targets(
            service_url=service_url,
            bare_url="http://127.0.0.1:8102",
            auth={"Authorization": f"Bearer {token}"},
            create_lua=lua_post(
                tmp / "create.lua",
                '{"subject": "Bench", "title": "wrk", "minutes": 25, "studied_on": "2026-11-01"}',
                "application/json",
                token,
            ),
            login_lua=lua_post(
                tmp / "login.lua",
                f"username={EMAIL}&password={PASSWORD}",
                "application/x-www-form-urlencoded",
            ),
        )
        for connections in (64, 256):
            results += measure(targets, connections, args.duration)
        results.append(
            Result(
                f"soak: list, {args.soak} s",
                256,
                *wrk(
                    f"{service_url}/api/v1/study-records?page=1&size=20",
                    headers=targets.auth,
                    connections=256,
                    duration=args.soak,
                ),
            )
        )
        results += measure_login(targets, args.duration)
        memory = worker_rss_mb(service.pid)
    finally:
        stop(service)
        if bare:
            stop(bare)

    print()
    print_table(results)
    print(
        f"\nservice worker memory after the run (RSS): {', '.join(f'{m:.0f} MB' for m in memory)}"
    )
    checks = verdicts(results, memory)
    print()
    for name, passed in checks.items():
        print(f"  {'PASS' if passed else 'FAIL'}  {name}")
    print(f"\nlogs: {tmp}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
