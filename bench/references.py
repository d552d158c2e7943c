"""Two references bench/serving.py measures the service against besides the bare apps: the
same service on MySQL/MariaDB, and the logins a second the machine's cores can hash."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pymysql

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PASSWORD = "bench-password-123"  # noqa: S105  (the bench account's, in a scratch database)


_ONE_VERIFY = """
import statistics, sys, time
from app.users.passwords import PASSWORD_HELPER
stored = PASSWORD_HELPER.hash(sys.argv[1])
times = []
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    PASSWORD_HELPER.verify_and_update(sys.argv[1], stored)
    times.append(time.perf_counter() - started)
print(statistics.median(times))
"""


def hashing_limit(samples: int = 20) -> float:
    """Logins a second the machine's cores can verify: cores ÷ the median time of one
    Argon2 verify with the service's own parameters (its hasher, in a process of its own),
    measured now on one core."""
    done = subprocess.run(
        [PYTHON, "-c", _ONE_VERIFY, PASSWORD, str(samples)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return (os.cpu_count() or 1) / float(done.stdout.strip())


def mysql_environment(
    args: argparse.Namespace, service_env: dict[str, str], url: str
) -> dict[str, str]:
    """The environment of the same service (same settings and Redis, keys of its own) on a
    scratch MySQL/MariaDB database, which this makes and migrates, serving at `url`."""
    parts = urlsplit(args.mysql)
    server = pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
    )
    try:
        with server.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{args.database}`")
            cursor.execute(f"CREATE DATABASE `{args.database}` CHARACTER SET utf8mb4")
    finally:
        server.close()
    env = {
        **service_env,
        "DATABASE_URL": urlunsplit(parts._replace(path=f"/{args.database}")),
        "GUNICORN_BIND": url.removeprefix("http://"),
        "REDIS_KEY_PREFIX": f"{service_env['REDIS_KEY_PREFIX']}mysql:",
    }
    subprocess.run([PYTHON, "run.py", "db", "upgrade"], cwd=ROOT, env=env, check=True)
    return env
