"""What the audit trail costs: the authenticated study-record list with it on and off.

    .venv/bin/python bench/audit_overhead.py [--duration 15] [--connections 64] [--rounds 2]
        [--prefill 10000000]

Starts the app under gunicorn with uvicorn workers on a scratch PostgreSQL database (made,
migrated with `python run.py db upgrade`, dropped at the end), registers a user, seeds
records through the API, then runs wrk against GET /api/v1/study-records?page=1&size=20
with AUDIT_ENABLED=true and =false, alternating, and prints requests per second, latency
and the ratio on/off (target: at least 0.90). `--prefill N` first puts N entries in today's
audit partition (generate_series), so the writer inserts into a table of that size. Needs
wrk (`apt-get install -y wrk`) and a PostgreSQL server (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

BASE_DIR = Path(__file__).resolve().parent.parent
# A throwaway server on a scratch database; production refuses a well-known key, so each
# run makes its own.
SECRET_KEY = secrets.token_urlsafe(48)
EMAIL = "bench@example.com"
PASSWORD = "bench password 123"  # noqa: S105
STUDY_LIST = "/api/v1/study-records?page=1&size=20"
FALLBACK = "/api/v1/users/me"
TARGET_RATIO = 0.90


@dataclass
class Result:
    mode: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def count_audit_rows(url: str) -> int:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        return int(await conn.fetchval("SELECT COUNT(*) FROM audit_log"))
    finally:
        await conn.close()


PREFILL = """
INSERT INTO audit_log (created_at, request_id, method, path, route, query, status_code,
                       duration_ms, client_ip, user_agent, user_id, response_bytes)
SELECT date_trunc('day', now()) + (g % 3600) * interval '1 second', 'prefill-' || g, 'GET',
       '/api/v1/study-records', '/api/v1/study-records', '', 200, 1.5, '192.0.2.1', 'bench',
       NULL, 100
FROM generate_series($1::bigint, $2::bigint) AS g
"""


async def prefill(url: str, rows: int) -> None:
    """`rows` entries in today's partition, a million per statement, then ANALYZE."""
    conn = await asyncpg.connect(url, timeout=5)
    try:
        for start in range(1, rows + 1, 1_000_000):
            await conn.execute(PREFILL, start, min(rows, start + 999_999), timeout=3600)
        await conn.execute("ANALYZE audit_log", timeout=3600)
    finally:
        await conn.close()


class Server:
    """gunicorn with uvicorn workers, as production runs it, on a free port."""

    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.workers = workers
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "asgi:app",
            "-k",
            "uvicorn_worker.UvicornWorker",
            "-w",
            str(self.workers),
            "-b",
            f"127.0.0.1:{self.port}",
        ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with  # stopped in __exit__
                command, cwd=BASE_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {self.log}")
            try:
                if httpx.get(f"{self.base_url}/api/health/ready", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"gunicorn did not come up; see {self.log}")

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def bearer(base_url: str, *, register: bool) -> dict[str, str]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        if register:
            response = client.post(
                "/api/v1/auth/register", json={"email": EMAIL, "password": PASSWORD}
            )
            response.raise_for_status()
        response = client.post(
            "/api/v1/auth/jwt/login", data={"username": EMAIL, "password": PASSWORD}
        )
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


def seed(base_url: str, headers: dict[str, str], count: int) -> str:
    """Seeds records; the URL to measure (the study list, or /users/me without it)."""
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        if client.get(STUDY_LIST).status_code == 404:
            print(f"!! {STUDY_LIST} is not there yet; measuring GET {FALLBACK} instead")
            return FALLBACK
        for n in range(count):
            response = client.post(
                "/api/v1/study-records",
                json={"subject": f"subject {n % 5}", "title": f"record {n}", "minutes": 30},
            )
            response.raise_for_status()
        response = client.get(STUDY_LIST)
        response.raise_for_status()
        return STUDY_LIST


def milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(url: str, headers: dict[str, str], args: argparse.Namespace, mode: str) -> Result:
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    subprocess.run([*command, "-d3s", url], check=True, capture_output=True)  # warm-up
    out = subprocess.run(
        [*command, f"-d{args.duration}s", url], check=True, capture_output=True, text=True
    ).stdout
    if "Latency Distribution" not in out:
        raise SystemExit(f"unexpected wrk output:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # The distribution's lines, not a "…99%" stdev column of the thread stats.
    p50 = milliseconds(re.search(r"^[ \t]+50%[ \t]+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = milliseconds(re.search(r"^[ \t]+99%[ \t]+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Result(mode, rps, p50, p99, errors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--records", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2, help="on/off pairs, alternating")
    parser.add_argument(
        "--prefill", type=int, default=0, help="audit rows in the table before measuring"
    )
    parser.add_argument(
        "--path", default=None, help=f"measure this instead of {STUDY_LIST} (e.g. a cheap route)"
    )
    parser.add_argument("--database", help="the scratch database's name")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get update && apt-get install -y wrk", file=sys.stderr)
        return 1

    server_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    name = args.database or f"studylog_bench_{os.getpid()}"
    database_url = with_database(server_url, name)
    asyncio.run(admin(server_url, f'CREATE DATABASE "{name}"'))
    log = Path(tempfile.gettempdir()) / f"{name}.log"
    base_env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "MAIL_BACKEND": "none",  # production refuses to start without mail unless it is off
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "LOG_LEVEL": "WARNING",
        "DB_POOL_MAX_SIZE": "10",
    }
    results: list[Result] = []
    try:
        subprocess.run(
            [sys.executable, "run.py", "db", "upgrade"],
            cwd=BASE_DIR,
            env=base_env,
            check=True,
            capture_output=True,
        )
        if args.prefill:
            asyncio.run(prefill(database_url, args.prefill))
        with Server({**base_env, "AUDIT_ENABLED": "false"}, args.workers, log) as server:
            headers = bearer(server.base_url, register=True)
            path = seed(server.base_url, headers, args.records)
        path = args.path or path
        modes = [("audit on", "true"), ("audit off", "false")]
        for round_number in range(args.rounds):
            # Each mode goes first every other round: what follows a server's start (the
            # checkpoint of the last run's writes, say) falls on both alike.
            for mode, enabled in modes if round_number % 2 == 0 else modes[::-1]:
                env = {**base_env, "AUDIT_ENABLED": enabled}
                with Server(env, args.workers, log) as server:
                    result = run_wrk(server.base_url + path, headers, args, mode)
                results.append(result)
                print(
                    f"   {mode:<9} {result.requests_per_second:9.0f} req/s"
                    f"  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms",
                    flush=True,
                )
        audit_rows = asyncio.run(count_audit_rows(database_url)) - args.prefill
    finally:
        asyncio.run(admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    report(results, path, args, audit_rows)
    return 0


def report(results: list[Result], path: str, args: argparse.Namespace, audit_rows: int) -> None:
    print()
    print(
        f"GET {path}  gunicorn -w {args.workers} (uvicorn workers), PostgreSQL, "
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, {args.rounds} rounds"
    )
    print(f"{'mode':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    means = {}
    for mode in ("audit on", "audit off"):
        runs = [r for r in results if r.mode == mode]
        means[mode] = statistics.mean(r.requests_per_second for r in runs)
        print(
            f"{mode:<10} {means[mode]:>9.0f} "
            f"{statistics.mean(r.p50_ms for r in runs):>8.2f} "
            f"{statistics.mean(r.p99_ms for r in runs):>8.2f} "
            f"{sum(r.errors for r in runs):>7}"
        )
    ratio = means["audit on"] / means["audit off"]
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(f"ratio on/off: {ratio:.3f} ({verdict} the target of {TARGET_RATIO:.2f})")
    print(f"audit rows written during the runs: {audit_rows}")


if __name__ == "__main__":
    sys.exit(main())
