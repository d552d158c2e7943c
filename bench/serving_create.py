"""The create rows of bench/serving.py alone, with where the whole machine's CPU goes.

    .venv/bin/python bench/serving_create.py --database studylog_bench_NAME   # ~2 minutes

FastAPI's create (bench/fastapi_app.py: a pydantic body, one INSERT ... RETURNING on a
plain asyncpg pool) and the service's create (gunicorn, 2 workers, PostgreSQL, Redis, audit
trail on, as bench/serving.py starts them), interleaved, `--rounds` times at 64 and 256
connections, each row with its ratio to FastAPI's create in the same round (the median is
reported, as bench/serving.py does). On two cores shared by wrk, both servers, PostgreSQL
and Redis, each row also gets the CPU per request of each group of processes: the
service's workers, FastAPI's workers, the PostgreSQL backends of the scratch database
(their command line names it: the audit writer's COPYs are among them), redis-server
(shared with anything else using it) and wrk.

`--writers N` (default 64, as bench/serving.py) sends the creates of both rows from N users
in turn: every create of one user moves that user's kept count rows (app/study/tally.py),
which take concurrent writers one at a time, each holding the rows until its commit is
flushed; FastAPI's create has no such row. `--writers 1` shows one user's creates queueing.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from serving import (
    CREATE,
    EMAIL,
    GUNICORN,
    Targets,
    add_service_options,
    login,
    scratch,
    start,
    start_limit,
    stop,
    wait_until_up,
    worker_rss_mb,
)
from wrk_rows import Result, combine, lua_post_rotating, print_table, wrk


def _cpu_ticks(pid: int) -> int:
    """utime + stime of one process, in clock ticks (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(status.parent.name))
    return found


def cpu_groups(masters: dict[str, int], database: str) -> dict[str, set[int]]:
    """The processes whose CPU a create row is charged with: each named gunicorn's workers,
    the PostgreSQL backends connected to the scratch database (their command line names
    it), and redis-server (shared with whatever else uses it on this machine)."""
    groups: dict[str, set[int]] = {name: set(_children(pid)) for name, pid in masters.items()}
    groups["postgres"] = set()
    groups["redis"] = set()
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        comm = _comm(pid)
        if comm == "postgres" and f" {database} " in _cmdline(pid):
            groups["postgres"].add(pid)
        elif comm.startswith("redis-server"):
            groups["redis"].add(pid)
    return groups


def measure_cpu(
    find: Callable[[], dict[str, set[int]]],
    load: Callable[[], tuple[float, float, float, int, int]],
) -> tuple[tuple[float, float, float, int, int], dict[str, float]]:
    """`load()` (a wrk run) and the CPU seconds each group of processes (`find()`) spent
    meanwhile, wrk's own included. The groups are found again after the run: a process that
    appeared during it (a pool's new connection) is charged with all its CPU."""
    groups = find()
    before = {pid: _cpu_ticks(pid) for pids in groups.values() for pid in pids}
    wrk_before = os.times()
    done = load()
    wrk_after = os.times()
    tick = os.sysconf("SC_CLK_TCK")
    spent = {
        name: sum(_cpu_ticks(pid) - before.get(pid, 0) for pid in pids) / tick
        for name, pids in find().items()
    }
    spent["wrk"] = (wrk_after.children_user + wrk_after.children_system) - (
        wrk_before.children_user + wrk_before.children_system
    )
    return done, spent


def measure_create(
    t: Targets, connections: int, duration: int, find: Callable[[], dict[str, set[int]]]
) -> tuple[list[Result], list[dict[str, float]]]:
    """`--only create`: FastAPI's create, then the service's, with the ratio, and the CPU
    each group of processes spent per request in each (ms)."""
    rows, cpu = [], []
    for name, url in (
        ("fastapi: create (body, INSERT RETURNING)", f"{t.fastapi_url}/create"),
        (CREATE, f"{t.service_url}/api/v1/study-records"),
    ):
        done, spent = measure_cpu(
            find,
            lambda url=url: wrk(
                url, script=t.create_lua, connections=connections, duration=duration
            ),
        )
        rows.append(Result(name, connections, *done))
        requests = max(done[0] * duration, 1)
        cpu.append({group: 1000 * seconds / requests for group, seconds in spent.items()})
    rows[1].limit = "FastAPI create"
    rows[1].ratio = rows[1].rps / rows[0].rps
    return rows, cpu


def median_cpu(
    rounds: list[tuple[list[Result], list[dict[str, float]]]],
) -> list[tuple[str, int, dict[str, float]]]:
    """Per row of `measure_create`'s rounds: its name, connections and the median CPU per
    request of each group over the rounds."""
    first, _ = rounds[0]
    return [
        (
            row.name,
            row.connections,
            {
                group: statistics.median(spent[index][group] for _, spent in rounds)
                for group in rounds[0][1][index]
            },
        )
        for index, row in enumerate(first)
    ]


def print_cpu(cpu: list[tuple[str, int, dict[str, float]]]) -> None:
    print("\nCPU per request (ms), by process group, median of the rounds")
    groups = list(cpu[0][2])
    print(f"{'row':42} {'conns':>5} " + "".join(f"{g:>10}" for g in groups) + f"{'sum':>10}")
    for name, connections, spent in cpu:
        cells = "".join(f"{spent[g]:10.3f}" for g in groups)
        print(f"{name:42} {connections:5d} {cells}{sum(spent.values()):10.3f}")


def run(
    args: argparse.Namespace,
    service: subprocess.Popen[bytes],
    bare_env: dict[str, str],
    tmp: Path,
    db_url: str,
) -> int:
    """The create rows against a running service (see the module docstring)."""
    service_url = "http://127.0.0.1:8101"
    login(service_url, EMAIL)  # the owner of FastAPI's records
    writers = [login(service_url, f"bench-writer-{n}@example.com") for n in range(args.writers)]
    fastapi = start_limit("fastapi_app", 8103, bare_env, tmp / "fastapi.log")
    try:
        targets = Targets(
            service_url=service_url,
            audit_off_url="",
            bare_url="",
            fastapi_url="http://127.0.0.1:8103",
            auth={},
            superuser={},
            writers=[{"Authorization": f"Bearer {writer}"} for writer in writers],
            create_lua=lua_post_rotating(
                tmp / "create.lua",
                '{"subject": "Bench", "title": "wrk", "minutes": 25, "studied_on": "2026-11-01"}',
                writers,
            ),
            login_lua=tmp / "unused.lua",
        )
        database = urlsplit(db_url).path.lstrip("/")
        masters = {"service": service.pid, "fastapi": fastapi.pid}
        find = functools.partial(cpu_groups, masters, database)
        results: list[Result] = []
        cpu: list[tuple[str, int, dict[str, float]]] = []
        for connections in (64, 256):
            rounds = [
                measure_create(targets, connections, args.duration, find)
                for _ in range(args.rounds)
            ]
            results += combine([rows for rows, _ in rounds])
            cpu += median_cpu(rounds)
        memory = worker_rss_mb(service.pid)
    finally:
        stop(fastapi)
    print()
    print_table(results)
    print_cpu(cpu)
    print(f"\nservice worker memory (RSS): {', '.join(f'{m:.0f} MB' for m in memory)}")
    ratios = [r.ratio or 0 for r in results if r.name == CREATE]
    passed = all(ratio >= 0.5 for ratio in ratios)
    print(f"\n  {'PASS' if passed else 'FAIL'}  create >= 0.5 x FastAPI create (64 and 256)")
    print(f"\nlogs: {tmp}")
    return 0 if passed else 1


def main() -> int:
    parser = argparse.ArgumentParser(description="The create rows (see module docstring).")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both rows")
    parser.add_argument("--writers", type=int, default=64, help="users the creates go round")
    parser.add_argument("--database", default="studylog_bench_create", help="scratch database")
    add_service_options(parser)
    parser.set_defaults(port=8101)  # the service's port, as bench/serving.py's default
    args = parser.parse_args()
    db_url, service_env, bare_env, tmp = scratch(args)
    service = start(
        [GUNICORN, "-c", "gunicorn.conf.py", "asgi:app"], service_env, tmp / "service.log"
    )
    try:
        wait_until_up("http://127.0.0.1:8101/api/health/ready", service, tmp / "service.log")
        return run(args, service, bare_env, tmp, db_url)
    finally:
        stop(service)


if __name__ == "__main__":
    sys.exit(main())
