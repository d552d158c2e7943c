"""Load check (issue 8): 30 s at 256 connections over a mix of reads and writes, then
proof that no audit row was lost.

Run from a clone (PostgreSQL, Redis and wrk on this machine):

    .venv/bin/python bench/load.py [--duration 30] [--connections 256]

The service runs as in production (gunicorn, 2 workers, Redis, audit trail on) on a scratch
PostgreSQL database. wrk cycles through: list a page, create a record, read the public
count, read the stats (2 reads : 1 write : 1 read). Every request carries a User-Agent
unique to this run. After wrk ends the service is stopped with SIGTERM (which writes the
audit queue), and the script prints: requests answered, errors, non-2xx, and the audit
rows with this run's User-Agent. Pass: zero errors, zero non-2xx, and rows equal to the
requests the server received (wrk counts only answers it read before its clock stopped, so
at most one request per connection can be answered and recorded without being counted).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

# pylint: disable=wrong-import-position  # after the path entry above
from serving import (
    GUNICORN,
    ROOT,
    add_service_options,
    environments,
    prepare_service,
    recreate_database,
    start,
    stop,
    wait_until_up,
    with_database,
)
from wrk_rows import failures

MIX_LUA = """
local n = 0
local paths = {
  {"GET", "/api/v1/study-records?page=1&size=20", nil},
  {"POST", "/api/v1/study-records",
   '{"subject": "Load", "title": "wrk", "minutes": 15, "studied_on": "2026-11-02"}'},
  {"GET", "/api/v1/users/count", nil},
  {"GET", "/api/v1/study-records/stats", nil},
}
wrk.headers["Authorization"] = "Bearer %(token)s"
wrk.headers["User-Agent"] = "%(agent)s"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local p = paths[(n %% #paths) + 1]
  return wrk.format(p[1], p[2], nil, p[3])
end
"""


def run_wrk(url: str, script: Path, connections: int, duration: int) -> dict[str, int]:
    done = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
    )
    print(done.stdout)
    answered = int(re.search(r"(\d+) requests in", done.stdout).group(1))  # type: ignore[union-attr]
    errors, non_2xx = failures(done.stdout)
    return {"answered": answered, "errors": errors, "non_2xx": non_2xx}


async def audit_rows(db_url: str, agent: str) -> int:
    conn = await asyncpg.connect(db_url.replace("postgres://", "postgresql://", 1))
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM audit_log WHERE user_agent = $1", agent)
        )
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description="Load check (see module docstring).")
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--records", type=int, default=50, help="study records to start with")
    add_service_options(parser)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    db_url = with_database(args.postgres, "studylog_load")
    asyncio.run(recreate_database(args.postgres, "studylog_load"))
    subprocess.run(["redis-cli", "-u", args.redis, "flushdb"], check=True, capture_output=True)
    service_env, _ = environments(args, db_url)
    subprocess.run(
        [sys.executable, "run.py", "db", "upgrade"], cwd=ROOT, env=service_env, check=True
    )
    tmp = Path(tempfile.mkdtemp(prefix="studylog-load-"))
    service = start(
        [GUNICORN, "-c", "gunicorn.conf.py", "asgi:app"], service_env, tmp / "service.log"
    )
    agent = f"studylog-load-{uuid.uuid4().hex[:12]}"
    try:
        url = "http://127.0.0.1:8101"
        wait_until_up(f"{url}/api/health/ready", service, tmp / "service.log")
        token = prepare_service(url, args.records)
        script = tmp / "mix.lua"
        script.write_text(MIX_LUA % {"token": token, "agent": agent}, encoding="utf-8")
        result = run_wrk(url, script, args.connections, args.duration)
    finally:
        stop(service)  # SIGTERM: the workers write their audit queues before exiting
    rows = asyncio.run(audit_rows(db_url, agent))
    unrecorded = result["answered"] - rows
    print(
        f"answered {result['answered']}, socket errors {result['errors']}, "
        f"non-2xx {result['non_2xx']}, audit rows {rows} "
        f"({rows - result['answered']:+d}; at most +{args.connections} in flight at the stop)"
    )
    passed = (
        result["errors"] == 0
        and result["non_2xx"] == 0
        and unrecorded <= 0
        and rows - result["answered"] <= args.connections
    )
    print("PASS" if passed else "FAIL", f"logs: {tmp}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
