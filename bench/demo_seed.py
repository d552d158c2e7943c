"""Benchmark: `demo seed` of 100,000 study records on a fresh SQLite database.

Run: .venv/bin/python bench/demo_seed.py [--users 100 --records-per-user 1000]
Target (issue 6): under 60 s on the project's 2-core machine.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--records-per-user", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATABASE_URL": f"sqlite://{tmp}/bench.db", "APP_ENV": "test"}

        def cli(*words: str) -> str:
            done = subprocess.run(
                [sys.executable, "run.py", *words],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            return done.stdout

        cli("db", "upgrade")
        started = time.perf_counter()
        out = cli(
            "demo",
            "seed",
            "--users",
            str(args.users),
            "--records-per-user",
            str(args.records_per_user),
            "--json",
        )
        wall = time.perf_counter() - started
    report = json.loads(out)
    records = report["records_created"]
    verdict = "PASS" if wall < TARGET_SECONDS else "FAIL"
    print(f"demo seed: {records} records for {args.users} users")
    print(f"  command wall time {wall:.2f} s (inside the command {report['seconds']} s)")
    print(f"  {records / wall:,.0f} records/s; target < {TARGET_SECONDS:.0f} s: {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
