"""Serving benchmark: the service under gunicorn beside FastAPI's and Starlette's limits.

Run from a clone (PostgreSQL, MySQL/MariaDB, Redis and wrk on this machine):

    .venv/bin/python bench/serving.py            # about 30 minutes
    .venv/bin/python bench/serving.py --duration 5 --soak 10 --growth 60,10000   # quicker

It creates a scratch PostgreSQL database, migrates it, starts the service with gunicorn
(2 uvicorn workers, Redis, audit trail on, APP_ENV=production) and, under the same
gunicorn, two limits: bare Starlette + asyncpg (bench/bare_app.py) and bare FastAPI +
asyncpg (bench/fastapi_app.py: a header dependency, a pydantic page model, a pydantic
create). The measured user has a fixed 60 records; the create rows write as `--writers` (64)
other users in turn, each request the next user's: a user's creates queue on that user's kept
count rows until each commit is flushed (a few hundred a second for one user, whose own write
limit is 120 a minute), so one user writing at the machine's rate measures that queue, not
the service under a production load of many users.
wrk drives everything at 64 and 256 connections, every row gets its ratio to the matching
FastAPI limit, and the 256-connection list is soaked. The same list is served right after
by the service with the audit trail off (then off and on again: the on/off ratio is of the
sums of the four runs) and by the service on MySQL (`--mysql`); login is set against the
hashing limit (cores ÷ one Argon2 verify, measured in the run).

On two cores shared by wrk, the servers, the databases and Redis, every row is run
`--rounds` times (3), interleaved; the table gives the median round of each row and the
median of its ratios within each round (errors and non-2xx summed over all rounds).

Then the cost-growth rows: users with 60, 10,000 and 100,000 records made by
`run.py demo seed`, each measured on page 1, a deep page (the last), the cursor's first and
last page, and stats; the export is timed once per user; a cursor walk over the largest
user checks that every record comes back once and compares its deepest 100 pages with its
first 100; the superuser's page 1 over all records against the 60-record user's, in the
same rounds. `--stats-days` gives the row "stats at 10,000 days". It ends with the
verdicts of issues 11, 25 and 27 and each worker's memory.

bench/serving_create.py runs the create rows alone in a couple of minutes, with the CPU per
request of every process involved (the workers, PostgreSQL, Redis, wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import references
from wrk_rows import Result, combine, lua_post, lua_post_rotating, print_table, wrk

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
EMAIL = "bench@example.com"
PASSWORD = "bench-password-123"  # noqa: S105  (a throwaway account in a scratch database)


def add_service_options(parser: argparse.ArgumentParser) -> None:
    """Where the scratch database and Redis are (shared with bench/load.py)."""
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    )


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


def login(base: str, email: str, password: str = PASSWORD) -> str:
    """Registers the account when it is new; returns an access token."""
    with httpx.Client(base_url=base, timeout=60) as client:
        response = client.post("/api/v1/auth/register", json={"email": email, "password": password})
        assert response.status_code in (201, 400), response.text
        answer = client.post(
            "/api/v1/auth/jwt/login", data={"username": email, "password": password}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]


def prepare_service(base: str, records: int) -> str:
    """Registers the bench user, fills its records; returns an access token."""
    token = login(base, EMAIL)
    with httpx.Client(base_url=base, timeout=30) as client:
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


@dataclass
class Targets:  # pylint: disable=too-many-instance-attributes  # what the rows are run against
    service_url: str
    audit_off_url: str  # the same service on the same database, with AUDIT_ENABLED=false
    bare_url: str
    fastapi_url: str
    auth: dict[str, str]
    superuser: dict[str, str]
    writers: list[dict[str, str]]  # the create rows' users
    create_lua: Path
    login_lua: Path
    # The same service on MySQL/MariaDB (its own user with the same 60 records), or None.
    mysql_url: str | None = None
    mysql_auth: dict[str, str] | None = None


@dataclass
class Limits:
    """The four limit rows at one connection count."""

    starlette_hello: Result
    starlette_page: Result
    fastapi_hello: Result
    fastapi_rows: Result

    def rate(self, result: Result, *, reads_records: bool) -> Result:
        fastapi, starlette = (
            (self.fastapi_rows, self.starlette_page)
            if reads_records
            else (self.fastapi_hello, self.starlette_hello)
        )
        result.fastapi = result.rps / fastapi.rps
        result.starlette = result.rps / starlette.rps
        return result


def measure_limits(t: Targets, connections: int, duration: int) -> Limits:
    run = {"connections": connections, "duration": duration}
    return Limits(
        starlette_hello=Result("starlette: hello", connections, *wrk(f"{t.bare_url}/hello", **run)),
        starlette_page=Result(
            "starlette: asyncpg page", connections, *wrk(f"{t.bare_url}/page", **run)
        ),
        fastapi_hello=Result("fastapi: hello", connections, *wrk(f"{t.fastapi_url}/hello", **run)),
        fastapi_rows=Result(
            "fastapi: rows (header dep, model)",
            connections,
            *wrk(f"{t.fastapi_url}/rows", headers=t.auth, **run),
        ),
    )


LIST = "/api/v1/study-records?page=1&size=20"


def measure(t: Targets, connections: int, duration: int) -> list[Result]:
    """One wrk run per endpoint at this many connections, with the ratios to the limits."""
    run = {"connections": connections, "duration": duration}
    limits = measure_limits(t, connections, duration)
    url = t.service_url
    health = limits.rate(
        Result("/api/health/check", connections, *wrk(f"{url}/api/health/check", **run)),
        reads_records=False,
    )
    count = limits.rate(
        Result(
            "/api/v1/users/count",
            connections,
            *wrk(f"{url}/api/v1/users/count", **run),
            limit="health",
        ),
        reads_records=False,
    )
    count.ratio = count.rps / health.rps
    rows = [
        limits.starlette_hello,
        limits.starlette_page,
        limits.fastapi_hello,
        limits.fastapi_rows,
        health,
        count,
    ]
    listed = limits.rate(
        Result(
            "study-records list (auth, 20 of 60)",
            connections,
            *wrk(f"{url}{LIST}", headers=t.auth, **run),
            limit="audit off",
        ),
        reads_records=True,
    )
    # Right after it, the same list from the same service with the audit trail off; then
    # off and on once more, in that order (A B B A): one pair of 6 s runs moved 0.73-1.05
    # between pairs of the same servers, in either order, so the ratio is of the sums.
    off_url = f"{t.audit_off_url}{LIST}"
    unaudited = limits.rate(
        Result("  same list, audit trail off", connections, *wrk(off_url, headers=t.auth, **run)),
        reads_records=True,
    )
    off_again = wrk(off_url, headers=t.auth, **run)
    on_again = wrk(f"{url}{LIST}", headers=t.auth, **run)
    listed.ratio = (listed.rps + on_again[0]) / (unaudited.rps + off_again[0])
    # Their failures count with the rows' (the table shows the first pair's figures).
    listed.errors += on_again[3]
    listed.non_2xx += on_again[4]
    unaudited.errors += off_again[3]
    unaudited.non_2xx += off_again[4]
    rows += [listed, unaudited]
    if t.mysql_url and t.mysql_auth:
        on_mysql = limits.rate(
            Result(
                MYSQL_LIST,
                connections,
                *wrk(f"{t.mysql_url}{LIST}", headers=t.mysql_auth, **run),
                limit="PostgreSQL list",
            ),
            reads_records=True,
        )
        on_mysql.ratio = on_mysql.rps / listed.rps
        rows.append(on_mysql)
    for name, path, headers in (
        (CURSOR, "/api/v1/study-records/cursor?size=20", t.auth),
        (STATS_SMALL, "/api/v1/study-records/stats", t.auth),
        ("superuser list (20 of all)", LIST, t.superuser),
    ):
        rows.append(
            limits.rate(
                Result(name, connections, *wrk(f"{url}{path}", headers=headers, **run)),
                reads_records=True,
            )
        )
    # Last: they add records, to another user than the one measured above (FastAPI's to a
    # table of its own), FastAPI's create right before the service's.
    bare_create = Result(
        "fastapi: create (body, INSERT RETURNING)",
        connections,
        *wrk(f"{t.fastapi_url}/create", script=t.create_lua, **run),
    )
    created = limits.rate(
        Result(
            CREATE,
            connections,
            *wrk(f"{url}/api/v1/study-records", script=t.create_lua, **run),
            limit="FastAPI create",
        ),
        reads_records=True,
    )
    created.ratio = created.rps / bare_create.rps
    return [*rows, bare_create, created]


ONLY_ROWS = ("list", "mysql")  # `--only`: the list always, beside FastAPI's rows


def measure_only(t: Targets, only: set[str], connections: int, duration: int) -> list[Result]:
    """`--only`: FastAPI's rows, the service's list and (`mysql`) the same list on MySQL, in
    that order in one round, each rated against FastAPI's rows of the same round."""
    run = {"connections": connections, "duration": duration}
    fastapi = Result(
        "fastapi: rows (header dep, model)",
        connections,
        *wrk(f"{t.fastapi_url}/rows", headers=t.auth, **run),
    )
    listed = Result(LISTED, connections, *wrk(f"{t.service_url}{LIST}", headers=t.auth, **run))
    rows = [fastapi, listed]
    if "mysql" in only and t.mysql_url and t.mysql_auth:
        on_mysql = Result(
            MYSQL_LIST,
            connections,
            *wrk(f"{t.mysql_url}{LIST}", headers=t.mysql_auth, **run),
            limit="PostgreSQL list",
        )
        on_mysql.ratio = on_mysql.rps / listed.rps
        rows.append(on_mysql)
    for row in rows[1:]:
        row.fastapi = row.rps / fastapi.rps
    return rows


STATS_SMALL = "study-records stats (60)"
LISTED = "study-records list (auth, 20 of 60)"
MYSQL_LIST = "  same list, MySQL"
CURSOR = "study-records cursor (auth, 20 of 60)"
CREATE = "study-records create (other user)"
LOGIN = "auth/jwt/login"


def seed_days_user(base: str, days: int) -> dict[str, str]:
    """A user with one record on each of the last `days` days, today included, written
    through the API (so the kept rollup is the service's own): the most `by_day` entries
    and the longest current streak a history of that many records can give."""
    token = login(base, f"bench-days-{days}@example.com")
    headers = {"Authorization": f"Bearer {token}"}
    today = datetime.now(UTC).date()
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for n in range(days):
            created = client.post(
                "/api/v1/study-records",
                json={
                    "subject": f"Subject {n % 7}",
                    "title": f"Day {n}",
                    "minutes": 30,
                    "studied_on": (today - timedelta(days=n)).isoformat(),
                },
            )
            assert created.status_code == 201, created.text
    return headers


def measure_stats_days(t: Targets, days: int, duration: int, rounds: int) -> Result:
    """`GET /stats` of a user with records on `days` different days (the default request:
    the service's default window), in rounds (the median), beside the stats of 60 records."""
    auth = seed_days_user(t.service_url, days)
    url = f"{t.service_url}/api/v1/study-records/stats"
    done = []
    for _ in range(rounds):
        settle(url, auth)
        done.append(
            [
                Result(
                    f"stats at {days:,} days",
                    64,
                    *wrk(url, headers=auth, connections=64, duration=duration),
                )
            ]
        )
    return combine(done)[0]


def measure_login(t: Targets, duration: int) -> list[Result]:
    """Last: wrk leaves queued password hashes behind, which would slow what follows. Each
    row against the hashing limit measured right before it."""
    rows = []
    for connections in (64, 256):
        limit = references.hashing_limit()
        result = Result(
            LOGIN,
            connections,
            *wrk(
                f"{t.service_url}/api/v1/auth/jwt/login",
                script=t.login_lua,
                connections=connections,
                duration=duration,
            ),
            limit=f"hashing limit {limit:.0f}/s",
        )
        result.ratio = result.rps / limit
        rows.append(result)
    return rows


# --- cost growth ------------------------------------------------------------------------


@dataclass
class Growth:
    records: int
    rows: dict[str, Result]
    export_seconds: float
    export_bytes: int


def seed_user(env: dict[str, str], records: int) -> str:
    """One demo user with `records` records, made by `run.py demo seed`; its email."""
    prefix = f"growth{records}"
    subprocess.run(
        [
            PYTHON,
            "run.py",
            "demo",
            "seed",
            "--users",
            "1",
            "--records-per-user",
            str(records),
            "--prefix",
            prefix,
            "--json",
            "--yes",  # the service runs with APP_ENV=production, where seeding asks first
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    # A bulk load leaves work behind: autovacuum's insert-triggered vacuum and analyze, and
    # hint bits that the first reads of each page would write. Measured here is the steady
    # state a service reaches minutes after such a load, not those minutes.
    asyncio.run(execute(env["DATABASE_URL"], "VACUUM (ANALYZE)"))
    return f"{prefix}-1@example.com"


def settle(url: str, headers: dict[str, str], *, fast_ms: float = 100, limit_s: float = 60) -> None:
    """Waits until `url` answers one request within `fast_ms`: requests wrk left behind (it
    stops sending, the server still answers what it took, deep OFFSET pages for seconds)
    must not slow the next row."""
    deadline = time.monotonic() + limit_s
    with httpx.Client(headers=headers, timeout=limit_s) as client:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            client.get(url).raise_for_status()
            if (time.perf_counter() - started) * 1000 < fast_ms:
                return
            time.sleep(0.5)


def cursor_walk(base: str, headers: dict[str, str], records: int) -> tuple[str, float, float]:
    """Walks every page of 20 by `next_page`: (the last page's cursor, the median ms of the
    first 100 pages, of the last 100). Fails unless every record came back exactly once.

    The two sets are timed again after the walk, a page of each in turn, three times over:
    the walk's own times drift with whatever else the machine does over its 5,000 pages
    (a checkpoint, one stall of 100 ms is 1 ms of a hundred pages' mean)."""
    seen: set[int] = set()
    cursors: list[str | None] = []  # each page's cursor (None: the first page)
    cursor: str | None = None
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:

        def page(at: str | None) -> dict[str, Any]:
            params = {"size": "20", **({"cursor": at} if at else {})}
            response = client.get("/api/v1/study-records/cursor", params=params)
            assert response.status_code == 200, response.text
            return response.json()

        while True:
            cursors.append(cursor)
            body = page(cursor)
            ids = [item["id"] for item in body["items"]]
            assert not seen.intersection(ids), "a record came back twice"
            seen.update(ids)
            if body["next_page"] is None:
                break
            cursor = body["next_page"]
        assert len(seen) == records, f"walk returned {len(seen)} of {records} records"
        times: dict[str, list[float]] = {"first": [], "last": []}
        for _ in range(3):
            for pair in zip(cursors[:100], cursors[-100:], strict=True):
                for name, at in zip(("first", "last"), pair, strict=True):
                    started = time.perf_counter()
                    page(at)
                    times[name].append((time.perf_counter() - started) * 1000)
    return cursor or "", statistics.median(times["first"]), statistics.median(times["last"])


def last_cursor_of(base: str, headers: dict[str, str]) -> str:
    """The cursor of the last page of 20 ("" when there is one page)."""
    last = ""
    with httpx.Client(headers=headers, timeout=30) as client:
        cursor: str | None = None
        while True:
            params = {"size": "20", **({"cursor": cursor} if cursor else {})}
            body = client.get(f"{base}/cursor", params=params).json()
            if body["next_page"] is None:
                return last
            last = cursor = body["next_page"]


def time_export(base: str, headers: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    size = 0
    with (
        httpx.Client(base_url=base, headers=headers, timeout=600) as client,
        client.stream("GET", "/api/v1/study-records/export", params={"format": "jsonl"}) as r,
    ):
        assert r.status_code == 200
        for chunk in r.iter_bytes():
            size += len(chunk)
    return time.perf_counter() - started, size


def measure_growth(
    t: Targets, env: dict[str, str], sizes: list[int], duration: int, rounds: int
) -> tuple[list[Growth], dict[str, float]]:
    run = {"connections": 64, "duration": duration}
    grown: list[Growth] = []
    walk: dict[str, float] = {}

    def superuser_page() -> tuple[Result, Result]:
        """The superuser's page 1 over all records and, interleaved with it in the same
        rounds, the 60-record user's page 1 (the medians)."""
        # What the seeding and the rows before left to write goes out first, not during the
        # first pair.
        asyncio.run(execute(env["DATABASE_URL"], "CHECKPOINT"))
        done = []
        both = [("superuser page 1 (all)", t.superuser), ("small", t.auth)]
        for round_number in range(rounds):
            pair = {}
            # Each goes first every other round: the second of a pair is not always the one
            # that meets what the first left behind.
            for name, headers in both if round_number % 2 == 0 else both[::-1]:
                url = f"{t.service_url}{LIST}"
                settle(url, headers)
                pair[name] = Result(name, 64, *wrk(url, headers=headers, **run))
            done.append([pair[name] for name, _ in both])
        combined = combine(done)
        return combined[0], combined[1]

    # The creates above wrote thousands of records as other users: their accounts go (their
    # records and kept counts with them, as a deregistration does).
    for writer in t.writers:
        with httpx.Client(base_url=t.service_url, headers=writer, timeout=60) as client:
            reply = client.request("DELETE", "/api/v1/users/me", json={"password": PASSWORD})
            reply.raise_for_status()
    for records in sizes:
        growth, user_walk = measure_user(t, env, records, walk=records == max(sizes), run=run)
        grown.append(growth)
        walk = user_walk or walk
    large, small = superuser_page()
    grown.append(Growth(-1, {"small": small, "superuser page 1 (all)": large}, 0.0, 0))
    return grown, walk


def measure_user(
    t: Targets, env: dict[str, str], records: int, *, walk: bool, run: dict[str, int]
) -> tuple[Growth, dict[str, float]]:
    """One seeded user's rows (and, for the largest, the cursor walk over all its records)."""
    walked: dict[str, float] = {}
    email = seed_user(env, records)
    auth = {"Authorization": f"Bearer {login(t.service_url, email, 'demo-password')}"}
    base = f"{t.service_url}/api/v1/study-records"
    last_page = max(1, -(-records // 20))
    if walk:
        last_cursor, first_ms, last_ms = cursor_walk(t.service_url, auth, records)
        walked = {"records": records, "first_100_ms": first_ms, "last_100_ms": last_ms}
    else:
        last_cursor = last_cursor_of(base, auth)
    paths = {
        "page 1": f"{base}?page=1&size=20",
        "deep page": f"{base}?page={last_page}&size=20",
        "cursor first": f"{base}/cursor?size=20",
        "cursor last": f"{base}/cursor?size=20&cursor={last_cursor}"
        if last_cursor
        else f"{base}/cursor?size=20",
        "stats": f"{base}/stats",
    }
    rows = {}
    for name, url in paths.items():
        settle(paths["page 1"], auth)
        rows[name] = Result(f"{name} ({records:,})", 64, *wrk(url, headers=auth, **run))
    settle(paths["page 1"], auth)
    seconds, size = time_export(t.service_url, auth)
    return Growth(records, rows, seconds, size), walked


def print_growth(grown: list[Growth], walk: dict[str, float]) -> None:
    print("\ncost growth (64 connections, req/s; p99 ms in brackets; export: one request)")
    sizes = [g for g in grown if g.records >= 0]
    names = list(sizes[0].rows)
    print(f"{'':16}" + "".join(f"{g.records:>22,}" for g in sizes))
    for name in names:
        cells = "".join(f"{g.rows[name].rps:>12.0f} ({g.rows[name].p99_ms:>6.0f})" for g in sizes)
        print(f"{name:16}{cells}")
    print(
        f"{'export jsonl':16}"
        + "".join(f"{g.export_seconds:>13.2f} s {g.export_bytes / 1e6:>5.1f}MB" for g in sizes)
    )
    for g in grown:
        if g.records < 0:
            for r in g.rows.values():
                print(f"{r.name}: {r.rps:.0f} req/s, p99 {r.p99_ms:.0f} ms")
    if walk:
        print(
            f"cursor walk over {walk['records']:,.0f} records: each once; first 100 pages "
            f"{walk['first_100_ms']:.2f} ms, last 100 {walk['last_100_ms']:.2f} ms per page "
            "(medians, timed again in turn)"
        )


def verdicts(
    results: list[Result], memory: list[float], grown: list[Growth], walk: dict[str, float]
) -> dict[str, bool]:
    by = {(r.name, r.connections): r for r in results}

    def at_64(name: str) -> Result:
        return by[(name, 64)]

    service_rows = [r for r in results if not r.name.startswith(("starlette:", "fastapi:"))]
    checks = {
        "list (20 of 60) >= 0.75 x FastAPI rows": (at_64(LISTED).fastapi or 0) >= 0.75,
        "list p99 <= 4 x p50 at 64 and 256 connections": all(
            by[(LISTED, c)].p99_ms <= 4 * by[(LISTED, c)].p50_ms for c in (64, 256)
        ),
        "zero errors and non-2xx at 64 and 256 connections (service)": all(
            r.errors == 0 and r.non_2xx == 0 for r in service_rows
        ),
        "each worker under 150 MB": bool(memory) and max(memory) < 150,
    }
    if (CREATE, 64) in by:  # the whole table, not `--only`
        checks |= {
            "cursor (20 of 60) >= 0.6 x FastAPI rows": (at_64(CURSOR).fastapi or 0) >= 0.6,
            "health >= 0.9 x FastAPI hello": (at_64("/api/health/check").fastapi or 0) >= 0.9,
            "create >= 0.5 x FastAPI create": (at_64(CREATE).ratio or 0) >= 0.5,
            "users/count >= 0.6 x health": (at_64("/api/v1/users/count").ratio or 0) >= 0.6,
            "list, audit on/off >= 0.9": (at_64(LISTED).ratio or 0) >= 0.9,
        }
    logins = [r for r in results if r.name == LOGIN and r.connections == 64]
    if logins:
        checks["login >= 0.7 x the hashing limit (64 connections)"] = (logins[0].ratio or 0) >= 0.7
    if (MYSQL_LIST, 64) in by:
        checks["MySQL list >= 0.9 x PostgreSQL's"] = (at_64(MYSQL_LIST).ratio or 0) >= 0.9
        checks["MySQL list p99 <= 4 x p50 at 64 and 256 connections"] = all(
            by[(MYSQL_LIST, c)].p99_ms <= 4 * by[(MYSQL_LIST, c)].p50_ms for c in (64, 256)
        )
    many_days = [r for r in results if r.name.startswith("stats at ") and r.name.endswith(" days")]
    if many_days:
        checks[f"{many_days[0].name} >= 0.5 x stats at 60 records"] = (
            many_days[0].rps >= 0.5 * at_64(STATS_SMALL).rps
        )
    sizes = sorted((g for g in grown if g.records >= 0), key=lambda g: g.records)
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        checks[f"page 1 at {large.records:,} >= 0.8 x at {small.records:,}"] = (
            large.rows["page 1"].rps >= 0.8 * small.rows["page 1"].rps
        )
        checks[f"stats at {large.records:,} >= 0.6 x at {small.records:,}"] = (
            large.rows["stats"].rps >= 0.6 * small.rows["stats"].rps
        )
    superuser = [g.rows for g in grown if g.records < 0]
    if superuser:
        checks["superuser page 1 over all >= 0.8 x the 60-record user's page 1"] = (
            superuser[0]["superuser page 1 (all)"].rps >= 0.8 * superuser[0]["small"].rps
        )
    if walk:
        checks["cursor walk: last 100 pages >= 0.8 x as fast as the first 100"] = (
            walk["first_100_ms"] / walk["last_100_ms"] >= 0.8
        )
    return checks


def measure_after(
    t: Targets, args: argparse.Namespace, env: dict[str, str], results: list[Result]
) -> tuple[list[Growth], dict[str, float]]:
    """After the table's rounds: the soak, stats at many days, the cost growth and login (the
    soak's and the others' rows added to `results`)."""
    results.append(
        Result(
            f"soak: list, {args.soak} s",
            256,
            *wrk(f"{t.service_url}{LIST}", headers=t.auth, connections=256, duration=args.soak),
        )
    )
    if args.stats_days:
        days_row = measure_stats_days(t, args.stats_days, args.duration, args.rounds)
        small = next(r for r in results if (r.name, r.connections) == (STATS_SMALL, 64))
        results.append(replace(days_row, limit=STATS_SMALL, ratio=days_row.rps / small.rps))
    grown: list[Growth] = []
    walk: dict[str, float] = {}
    if sizes := [int(n) for n in args.growth.split(",") if n.strip()]:
        grown, walk = measure_growth(t, env, sizes, args.duration, args.rounds)
    results += measure_login(t, args.duration)
    return grown, walk


def scratch(args: argparse.Namespace) -> tuple[str, dict[str, str], dict[str, str], Path]:
    """The scratch database made and migrated; its URL, the service's and the limits'
    environments, and a folder for the logs."""
    db_url = with_database(args.postgres, args.database)
    asyncio.run(recreate_database(args.postgres, args.database))
    service_env, bare_env = environments(args, db_url)
    subprocess.run([PYTHON, "run.py", "db", "upgrade"], cwd=ROOT, env=service_env, check=True)
    # FastAPI's create writes to a table like the records' (indexes included), not to them.
    asyncio.run(execute(db_url, "CREATE TABLE bare_record (LIKE study_record INCLUDING ALL)"))
    return db_url, service_env, bare_env, Path(tempfile.mkdtemp(prefix="studylog-bench-"))


def environments(args: argparse.Namespace, db_url: str) -> tuple[dict[str, str], dict[str, str]]:
    unlimited = str(10**9)
    service_env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        # Production refuses to start without mail unless it is said to be off.
        "MAIL_BACKEND": "none",
        "DATABASE_URL": db_url,
        "REDIS_URL": args.redis,
        # Keys of this run only: nothing left from an earlier run, nothing else flushed.
        "REDIS_KEY_PREFIX": f"bench-{secrets.token_hex(4)}:",
        "WEB_CONCURRENCY": "2",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_BIND": f"127.0.0.1:{args.port}",
        **dict.fromkeys(
            (
                "RATE_LIMIT_LOGIN_PER_IP",
                "RATE_LIMIT_LOGIN_PER_EMAIL",
                "RATE_LIMIT_LOGIN_PER_EMAIL_IP",
                "RATE_LIMIT_REGISTER_PER_IP",
                "RATE_LIMIT_REGISTER_PER_EMAIL",
                # The create rows write thousands of records a user; then its 64 users
                # deregister (each proving its password) from one address.
                "RATE_LIMIT_WRITE_PER_USER",
                "RATE_LIMIT_PASSWORD_PER_IP",
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


async def execute(db_url: str, statement: str, *args: object) -> None:
    """One statement on the scratch database, on a connection of its own."""
    parts = urlsplit(db_url)
    conn = await asyncpg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        database=parts.path.lstrip("/"),
    )
    try:
        await conn.execute(statement, *args)
    finally:
        await conn.close()


def start_limit(module: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [GUNICORN, "-k", "uvicorn_worker.UvicornWorker", "-w", "2"]
    command += ["-b", f"127.0.0.1:{port}", "--chdir", str(ROOT / "bench"), f"{module}:app"]
    process = start(command, env, log)
    wait_until_up(f"http://127.0.0.1:{port}/hello", process, log)
    return process


def main() -> int:  # pylint: disable=too-many-locals,too-many-statements  # one linear script
    parser = argparse.ArgumentParser(description="Serving benchmark (see module docstring).")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--soak", type=int, default=30, help="seconds of the 256-connection soak")
    parser.add_argument("--records", type=int, default=60, help="study records of the user")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of every row at 64 and 256 connections (the median is reported)",
    )
    parser.add_argument(
        "--growth",
        default="60,10000,100000",
        help="record counts of the cost-growth users (comma-separated; empty: none)",
    )
    parser.add_argument(
        "--stats-days",
        type=int,
        default=10_000,
        help="days with records of the user of the 'stats at N days' row (0: no such row)",
    )
    parser.add_argument("--database", default="studylog_bench", help="scratch database name")
    parser.add_argument(
        "--writers", type=int, default=64, help="users the create rows' requests go round"
    )
    parser.add_argument(
        "--mysql",
        default=os.environ.get("BENCH_MYSQL_URL", "mysql://root:@127.0.0.1:3306/"),
        help="MySQL/MariaDB server for the 'same list, MySQL' rows (empty: none)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8101,
        help="the service's port; the bare apps, the audit-off service and MySQL's take the "
        "next four (another port for a second run on the same machine)",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated: run only these rows, in rounds at 64 and 256 connections, each "
        "beside FastAPI's rows in the same round, and nothing after them: 'list' (the list), "
        "'list,mysql' (and MySQL's, with its ratio to the list)",
    )
    add_service_options(parser)
    args = parser.parse_args()
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    if only - set(ONLY_ROWS):
        parser.error(f"--only takes {', '.join(ONLY_ROWS)}")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")

    db_url, service_env, bare_env, tmp = scratch(args)
    on_mysql = None
    port = args.port  # the service; the limits, the audit-off service and MySQL's the next four
    mysql_url = f"http://127.0.0.1:{port + 4}"
    if args.mysql and (not only or "mysql" in only):
        mysql_env = references.mysql_environment(args, service_env, mysql_url)
        on_mysql = start(
            [GUNICORN, "-c", "gunicorn.conf.py", "asgi:app"], mysql_env, tmp / "mysql.log"
        )
    service = start(
        [GUNICORN, "-c", "gunicorn.conf.py", "asgi:app"], service_env, tmp / "service.log"
    )
    unaudited_env = {
        **service_env,
        "AUDIT_ENABLED": "false",
        "GUNICORN_BIND": f"127.0.0.1:{port + 3}",
    }
    unaudited = start(
        [GUNICORN, "-c", "gunicorn.conf.py", "asgi:app"], unaudited_env, tmp / "audit-off.log"
    )
    limits: list[subprocess.Popen[bytes]] = []
    results: list[Result] = []
    grown: list[Growth] = []
    walk: dict[str, float] = {}
    try:
        service_url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{service_url}/api/health/ready", service, tmp / "service.log")
        token = prepare_service(service_url, args.records)
        writers = [login(service_url, f"bench-writer-{n}@example.com") for n in range(args.writers)]
        login(service_url, "bench-admin@example.com")
        asyncio.run(
            execute(
                db_url,
                'UPDATE "user" SET is_superuser = TRUE, is_verified = TRUE WHERE email = $1',
                "bench-admin@example.com",
            )
        )
        admin = login(service_url, "bench-admin@example.com")
        wait_until_up(
            f"http://127.0.0.1:{port + 3}/api/health/ready", unaudited, tmp / "audit-off.log"
        )
        mysql_auth = None
        if on_mysql is not None:
            wait_until_up(f"{mysql_url}/api/health/ready", on_mysql, tmp / "mysql.log")
            mysql_auth = {"Authorization": f"Bearer {prepare_service(mysql_url, args.records)}"}
        limits.append(start_limit("bare_app", port + 1, bare_env, tmp / "bare.log"))
        limits.append(start_limit("fastapi_app", port + 2, bare_env, tmp / "fastapi.log"))
        targets = Targets(
            service_url=service_url,
            audit_off_url=f"http://127.0.0.1:{port + 3}",
            bare_url=f"http://127.0.0.1:{port + 1}",
            fastapi_url=f"http://127.0.0.1:{port + 2}",
            auth={"Authorization": f"Bearer {token}"},
            superuser={"Authorization": f"Bearer {admin}"},
            writers=[{"Authorization": f"Bearer {writer}"} for writer in writers],
            create_lua=lua_post_rotating(
                tmp / "create.lua",
                '{"subject": "Bench", "title": "wrk", "minutes": 25, "studied_on": "2026-11-01"}',
                writers,
            ),
            login_lua=lua_post(
                tmp / "login.lua",
                f"username={EMAIL}&password={PASSWORD}",
                "application/x-www-form-urlencoded",
            ),
            mysql_url=mysql_url if mysql_auth else None,
            mysql_auth=mysql_auth,
        )
        for connections in (64, 256):
            rounds = [
                measure_only(targets, only, connections, args.duration)
                if only
                else measure(targets, connections, args.duration)
                for _ in range(args.rounds)
            ]
            results += combine(rounds)
        if not only:
            grown, walk = measure_after(targets, args, service_env, results)
        memory = worker_rss_mb(service.pid)
    finally:
        stop(service)
        stop(unaudited)
        if on_mysql is not None:
            stop(on_mysql)
        for process in limits:
            stop(process)

    print()
    print_table(results)
    if grown:
        print_growth(grown, walk)
    print(
        f"\nservice worker memory after the run (RSS): {', '.join(f'{m:.0f} MB' for m in memory)}"
    )
    checks = verdicts(results, memory, grown, walk)
    print()
    for name, passed in checks.items():
        print(f"  {'PASS' if passed else 'FAIL'}  {name}")
    print(f"\nlogs: {tmp}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
