"""Prometheus metrics at `GET /metrics` (when METRICS_ENABLED): requests by route template
and status, their latency, the audit queue, database pool usage, and the event loop's lag
(how late a due timer runs: the time one request held the loop that every other waited).

Under gunicorn every worker is its own process; gunicorn.conf.py points
PROMETHEUS_MULTIPROC_DIR at a shared directory before the workers start, so whichever
worker answers a scrape reports the sum over all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from tortoise import Tortoise

logger = logging.getLogger(__name__)

UNMATCHED = "unmatched"  # one label for every unknown path, so they cannot flood the series
SAMPLE_EVERY_SECONDS = 2.0
LAG_PROBE_SECONDS = 0.1

REQUESTS = Counter(
    "studylog_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "studylog_http_request_duration_seconds",
    "Time from request to the end of the answer, by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
AUDIT_QUEUE = Gauge(
    "studylog_audit_queue_entries",
    "Audit entries waiting to be written.",
    multiprocess_mode="livesum",
)
AUDIT_DROPPED = Gauge(
    "studylog_audit_dropped_entries",
    "Audit entries dropped because the queue was full.",
    multiprocess_mode="livesum",
)
LOOP_LAG = Histogram(
    "studylog_event_loop_lag_seconds",
    "How late the event loop woke a timer due every 0.1 s: time the loop was held by work "
    "that did not yield, which every request in the worker waited out.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
LOOP_LAG_MAX = Gauge(
    "studylog_event_loop_lag_max_seconds",
    "The worst event loop lag of the last sampling period, the worst worker's.",
    multiprocess_mode="max",
)
POOL = Gauge(
    "studylog_db_pool_connections",
    "Database pool connections, by state (open, idle).",
    ["state"],
    multiprocess_mode="livesum",
)

# Read at a scrape (from the broker and the database), at most once per
# METRICS_JOBS_EVERY_SECONDS in each web process (`EveryInterval`), so every process
# reports about the same numbers whichever answers, and scrapes cost no broker connection
# or GROUP BY each.
JOB_QUEUE = Gauge(
    "studylog_job_queue_messages",
    "Jobs waiting in the broker's queue (0 without a broker).",
    multiprocess_mode="mostrecent",
)
EXPORT_JOBS = Gauge(
    "studylog_export_jobs",
    "Export jobs by status: queued and running wait, done and failed are the outcomes.",
    ["status"],
    multiprocess_mode="mostrecent",
)
SMS_CAPACITY_REFUSALS = Counter(
    "studylog_sms_capacity_refusals_total",
    "SMS code requests answered 503 because SMS_MAX_PER_HOUR codes were asked for this hour.",
)
JOB_OUTCOMES = Gauge(
    "studylog_job_outcomes",
    "How jobs ended, by job and outcome (succeeded, retried: a try failed and another is "
    "scheduled, failed: given up), counted over every worker and host sharing Redis; "
    "it only grows (use increase()).",
    ["job", "outcome"],
    multiprocess_mode="mostrecent",
)
# The audit table's partitions: read at most once a minute per process (a catalog query).
AUDIT_DAYS_AHEAD = Gauge(
    "studylog_audit_partition_days_ahead",
    "Days after today (UTC) that already have an audit partition (PostgreSQL, MySQL; 0 on "
    "SQLite). Below a few, the hourly upkeep is not running; the writer still makes a day "
    "that is missing when a row needs it.",
    multiprocess_mode="mostrecent",
)
AUDIT_OLDEST_ENTRY = Gauge(
    "studylog_audit_oldest_entry_timestamp_seconds",
    "When the oldest audit entry kept was made (Unix time; 0 when there is none).",
    multiprocess_mode="mostrecent",
)
AUDIT_OVERFLOW_ROWS = Gauge(
    "studylog_audit_overflow_partition_rows",
    "Rows MySQL estimates in the audit table's MAXVALUE partition: above 0, rows arrived for "
    "days without their own partition (they are kept, but leave with no day).",
    multiprocess_mode="mostrecent",
)
AUDIT_SAMPLE_EVERY_SECONDS = 60.0
BROKER_TIMEOUT_SECONDS = 2.0
# When this process last read them (event loop time).
AUDIT_SAMPLED = {"at": -AUDIT_SAMPLE_EVERY_SECONDS}


async def sample_audit_partitions(
    figures: Callable[[], Awaitable[tuple[int, float, int]]],
) -> None:
    """Sets the audit partition gauges from `figures()` (days ahead, oldest entry time,
    overflow rows), at most once every AUDIT_SAMPLE_EVERY_SECONDS in this process."""
    now = asyncio.get_running_loop().time()
    if now - AUDIT_SAMPLED["at"] < AUDIT_SAMPLE_EVERY_SECONDS:
        return
    AUDIT_SAMPLED["at"] = now
    try:
        ahead, oldest, overflow = await figures()
    except Exception:  # pylint: disable=broad-exception-caught  # a scrape never fails on it
        logger.warning("metrics: audit partition figures unavailable", exc_info=True)
        return
    AUDIT_DAYS_AHEAD.set(ahead)
    AUDIT_OLDEST_ENTRY.set(oldest)
    AUDIT_OVERFLOW_ROWS.set(overflow)


def observe(method: str, route: str | None, status: int, seconds: float) -> None:
    """Counts and times one answered HTTP request under its route template (the outer
    layer, app/http/middleware.py, calls it for every request)."""
    route = route or UNMATCHED
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def pool_usage() -> tuple[int, int] | None:
    """(open, idle) connections of the default database's pool; None without a pool."""
    try:
        client = Tortoise.get_connection("default")
    except Exception:  # pylint: disable=broad-exception-caught  # not initialised: no pool
        return None
    pool: Any = getattr(client, "_pool", None)
    if pool is None:
        return None
    if hasattr(pool, "get_size"):  # asyncpg
        return pool.get_size(), pool.get_idle_size()
    if hasattr(pool, "freesize"):  # aiomysql
        return pool.size, pool.freesize
    return None


def sample(audit_state: Callable[[], tuple[int, int]] | None) -> None:
    """Sets the gauges from this process's current state."""
    if audit_state is not None:
        queued, dropped = audit_state()
        AUDIT_QUEUE.set(queued)
        AUDIT_DROPPED.set(dropped)
    usage = pool_usage()
    if usage is not None:
        POOL.labels("open").set(usage[0])
        POOL.labels("idle").set(usage[1])


async def sample_forever(audit_state: Callable[[], tuple[int, int]] | None) -> None:
    """Keeps this worker's gauges fresh, so a scrape by any worker sees every worker."""
    while True:
        try:
            sample(audit_state)
        except Exception:  # pylint: disable=broad-exception-caught  # metrics never stop the app
            logger.exception("metrics sampling failed")
        await asyncio.sleep(SAMPLE_EVERY_SECONDS)


async def probe_loop_lag(interval: float = LAG_PROBE_SECONDS) -> None:
    """Sleeps `interval` again and again and records how much later than due it woke."""
    loop = asyncio.get_running_loop()
    worst = 0.0
    period_ends = loop.time() + SAMPLE_EVERY_SECONDS
    while True:
        due = loop.time() + interval
        await asyncio.sleep(interval)
        now = loop.time()
        lag = max(0.0, now - due)
        LOOP_LAG.observe(lag)
        worst = max(worst, lag)
        if now >= period_ends:
            LOOP_LAG_MAX.set(worst)
            worst = 0.0
            period_ends = now + SAMPLE_EVERY_SECONDS


@contextlib.asynccontextmanager
async def sampler(audit_state: Callable[[], tuple[int, int]] | None) -> AsyncIterator[None]:
    tasks = [
        asyncio.create_task(sample_forever(audit_state), name="metrics-sampler"),
        asyncio.create_task(probe_loop_lag(), name="event-loop-lag-probe"),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def render() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


async def sample_jobs(
    queue_length: Callable[[float], int | None] | None,
    export_counts: Callable[[], Awaitable[dict[str, int]]],
    outcomes: Callable[[], Awaitable[dict[tuple[str, str], int]]],
) -> None:
    """Sets the job gauges: the queue's length from the broker (`queue_length(timeout)`, a
    blocking call run in a thread; None without a broker), export jobs per status,
    job outcomes from the shared store."""
    try:
        for status, count in (await export_counts()).items():
            EXPORT_JOBS.labels(status).set(count)
    except Exception:  # pylint: disable=broad-exception-caught  # a scrape never fails on it
        logger.warning("metrics: export job counts unavailable", exc_info=True)
    try:
        for (name, outcome), count in (await outcomes()).items():
            JOB_OUTCOMES.labels(name.removeprefix("app."), outcome).set(count)
    except Exception:  # pylint: disable=broad-exception-caught
        logger.warning("metrics: job outcomes unavailable", exc_info=True)
    if queue_length is None:
        JOB_QUEUE.set(0)  # jobs run in this process: nothing ever waits in a queue
        return
    queued = await asyncio.to_thread(queue_length, BROKER_TIMEOUT_SECONDS)
    if queued is not None:
        JOB_QUEUE.set(queued)


class EveryInterval:
    """Runs `probe` at most once per `interval` seconds in this process: a call within the
    interval of the last run does nothing (the gauges keep that run's values), and calls
    that arrive while a run is in flight wait for it instead of starting their own."""

    def __init__(
        self,
        probe: Callable[[], Awaitable[None]],
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.probe = probe
        self.interval = interval
        self.clock = clock
        self.runs = 0
        self._last: float | None = None
        self._lock = asyncio.Lock()

    async def __call__(self) -> None:
        async with self._lock:
            if self._last is not None and self.clock() - self._last < self.interval:
                return
            try:
                await self.probe()
            finally:
                self.runs += 1
                self._last = self.clock()


router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    probe = getattr(request.app.state, "metrics_probe", None)
    if probe is not None:
        await probe()
    return Response(render(), media_type=CONTENT_TYPE_LATEST)
