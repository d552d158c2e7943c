"""gunicorn for production: `gunicorn -c gunicorn.conf.py asgi:app`.

Migrations are not run here: apply them once before the workers start (`python run.py db
upgrade` in the deploy step; supervisor's `studylog-web` program does it before starting
gunicorn), never per worker.
No preload_app: an event loop or a database pool does not survive the fork.
"""

# gunicorn reads this file's module-level names as its settings.
# pylint: disable=invalid-name

import ctypes
import ctypes.util
import gc
import hashlib
import logging
import os
import shutil
import tempfile

from app.platform.logging import logging_config
from settings import BASE_DIR, settings


def _return_large_blocks_to_the_os() -> None:
    """glibc raises its mmap threshold after freeing a large block, so later blocks of that
    size come from arenas it never gives back: when password hashes still took their
    19 MiB from malloc, a login burst left each worker much larger (they now map it
    themselves, app/users/argon2_pages.py). A fixed threshold keeps every block over
    128 KiB (a large body, an export's buffers) in mmap, unmapped on free. Set in the
    master, inherited by every worker."""
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return
    m_mmap_threshold = -3
    mallopt(m_mmap_threshold, 128 * 1024)


_return_large_blocks_to_the_os()

# Workers are separate processes: prometheus_client keeps their metrics in files here so
# any worker's /metrics reports all of them. Set before a worker imports the app.
if settings.METRICS_ENABLED and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="studylog-metrics-")
    _OWN_METRICS_DIR: str | None = os.environ["PROMETHEUS_MULTIPROC_DIR"]
else:
    _OWN_METRICS_DIR = None

wsgi_app = "asgi:app"
bind = [settings.GUNICORN_BIND]
workers = settings.WEB_CONCURRENCY
# uvicorn's worker with WEB_LIMIT_CONCURRENCY and a bound on the request head it holds
# (app/http/serving.py); timeouts for slow clients and per-address limits are nginx's.
worker_class = "app.http.serving.Worker"
preload_app = False

# A worker that does not report for this long is killed and replaced.
timeout = 30
# SIGTERM: stop accepting, finish in-flight requests and flush the audit queue within this.
graceful_timeout = 25
# An idle keep-alive connection is closed after this (nginx's upstream keepalive_timeout
# in deploy/nginx/studylog.conf is shorter, so nginx never sends on one being closed).
keepalive = 5
# Recycle workers now and then so slow leaks cannot grow; jitter keeps them from all
# restarting at once. Rarely: a recycled worker drops its keep-alive connections, and at
# thousands of requests a second 10,000 meant a drop every few seconds (errors in wrk).
max_requests = 1_000_000
max_requests_jitter = 100_000
backlog = 2048
# gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl), so a
# second instance on the host would take over the first one's. One per checkout and bind;
# short enough for a unix socket path.
_instance = hashlib.sha256(f"{BASE_DIR}|{'|'.join(bind)}".encode()).hexdigest()[:12]
control_socket = os.path.join(tempfile.gettempdir(), f"studylog-gunicorn-{_instance}.ctl")
forwarded_allow_ips = ",".join(settings.TRUSTED_PROXIES)
proxy_allow_ips = forwarded_allow_ips

# One logging setup for gunicorn, uvicorn and the app: JSON lines in production.
logconfig_dict = logging_config(settings.LOG_LEVEL, settings.log_format)
accesslog = None  # the audit trail records every request

_log = logging.getLogger("gunicorn.error")


def on_starting(_server) -> None:
    _log.info(
        "starting studylog: %d workers on %s (database pool at most %d each)",
        workers,
        ", ".join(bind),
        settings.DB_POOL_MAX_SIZE,
    )


def post_fork(_server, worker) -> None:
    _log.info("worker %s started", worker.pid)


def post_worker_init(_worker) -> None:
    """Once the app is imported: what the worker built to get here (modules, routes, pydantic
    schemas; most of its memory) is never garbage, so the collector stops walking it. Each
    full collection walked all of it and stopped the event loop under load: the list's p99
    tail (docs/performance.md)."""
    gc.collect()
    gc.freeze()


def worker_exit(_server, worker) -> None:
    _log.info("worker %s exited", worker.pid)


def child_exit(_server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Imported only when metrics are on, so serving never depends on it otherwise.
        from prometheus_client import multiprocess  # pylint: disable=import-outside-toplevel

        multiprocess.mark_process_dead(worker.pid)


def on_exit(_server) -> None:
    if _OWN_METRICS_DIR:
        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)
