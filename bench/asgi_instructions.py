"""Instructions per request inside the app, counted by valgrind: a figure a busy machine
does not move.

    .venv/bin/python bench/asgi_instructions.py [--only "list (20)"] [--requests 100,300]

bench/asgi_cost.py's CPU time per request changes with what else the two cores run (a
helper's database fill doubled it). valgrind's callgrind counts the instructions the
process executes instead, which do not. This runs bench/asgi_cost.py under callgrind twice,
with two request counts, and divides the difference of the totals by the difference of the
counts, so start-up and login cancel out. What depends on the clock is held still so both
runs do the same work per request: the session cache outlives the run
(AUTH_CACHE_SECONDS=60), the audit queue is written once at shutdown (a flush interval of
a minute, batches of 10,000), and the metrics sampler is off. The environment is
asgi_cost's (DATABASE_URL, REDIS_URL, MAIL_BACKEND=log). About four minutes per route on an
idle machine: valgrind runs Python some fifty times slower.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import asgi_cost

HERE = Path(__file__).resolve().parent
HELD_STILL = {
    "AUTH_CACHE_SECONDS": "60",
    "AUDIT_FLUSH_INTERVAL_MS": "60000",
    "AUDIT_BATCH_SIZE": "10000",
    "METRICS_ENABLED": "false",
    "LOG_LEVEL": "WARNING",
}


def instructions(name: str, requests: int) -> int:
    """What callgrind counted for bench/asgi_cost.py measuring `name` `requests` times."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            str(HERE / "asgi_cost.py"),
            "--requests",
            str(requests),
            "--only",
            name,
        ],
        env={**os.environ, **HELD_STILL},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        lines = [line for line in done.stderr.splitlines() if not line.startswith("==")]
        raise SystemExit(f"{name} x {requests} failed under valgrind:\n" + "\n".join(lines[-20:]))
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"no count from valgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=list(asgi_cost.ROWS))
    parser.add_argument("--requests", default="100,300", help="the two request counts")
    args = parser.parse_args()
    low, high = (int(n) for n in args.requests.split(","))
    for name in args.only or list(asgi_cost.ROWS):
        per_request = (instructions(name, high) - instructions(name, low)) / (high - low)
        print(f"{name:14} {per_request / 1e6:8.3f} M instructions/request")


if __name__ == "__main__":
    main()
