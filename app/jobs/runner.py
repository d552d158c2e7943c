"""Background jobs: one way to hand work off, whether Celery workers or this process do it.

A job is an async function `job(ctx, **kwargs)` in a domain's `tasks.py`, marked with
`@job(...)` and its retry policy; its keyword arguments are plain JSON values (ids, never
secrets or tokens: they show in logs and in the broker). With CELERY_BROKER_URL set,
`submit` publishes it to the queue and a worker (app/jobs/worker.py, which discovers the
marked jobs) runs the very same function; without a broker it runs in this process after
the answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from amqp.exceptions import NotFound
from celery import Celery
from fastapi import BackgroundTasks
from kombu.exceptions import ChannelError, OperationalError

from app.notify.mail import MailSender
from app.notify.sms import SmsSender
from app.platform.context import request_id_var
from app.platform.errors import DomainError
from app.platform.store import KeyValueStore
from settings import Settings

logger = logging.getLogger(__name__)

# The message header with the id of the request that queued a job.
REQUEST_ID_HEADER = "studylog_request_id"

J = TypeVar("J", bound=Callable[..., Awaitable[Any]])

# Publishing waits at most this long for the broker before the request gives up.
PUBLISH_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a job may use; a worker process builds it once, a request per request."""

    settings: Settings
    store: KeyValueStore
    mail: MailSender
    sms: SmsSender


Job = Callable[..., Awaitable[Any]]


def job_name(job: Job) -> str:
    """The Celery task name of a job function: where it is defined."""
    return f"{job.__module__}.{job.__qualname__}"


# How one argument of a job shows in Celery's log lines and events (never its value).
Redactor = Callable[[Any], str]


@dataclass(frozen=True, slots=True)
class JobPolicy:
    """How a worker runs a job. `once`: a redelivered message does nothing the second time
    (mail, SMS). `retry_on`: failures worth another try later, with exponential backoff
    (JOB_RETRY_MAX, JOB_RETRY_BACKOFF_SECONDS); anything else fails the job at once.
    `shown`: arguments that are no plain ids, and how each shows (masked) where Celery
    logs a task's arguments; the others show as they are."""

    once: bool = False
    retry_on: tuple[type[BaseException], ...] = ()
    shown: Mapping[str, Redactor] = field(default_factory=dict)

    def kwargs_repr(self, kwargs: Mapping[str, Any]) -> str:
        """The arguments as Celery's lines show them (the message's `kwargsrepr`)."""
        return repr(
            {
                name: self.shown[name](value) if name in self.shown else value
                for name, value in kwargs.items()
            }
        )


# Every job marked with @job, by task name; the worker registers one Celery task for each.
REGISTRY: dict[str, tuple[Job, JobPolicy]] = {}


def job(
    *,
    once: bool = False,
    retry_on: tuple[type[BaseException], ...] = (),
    shown: Mapping[str, Redactor] | None = None,
) -> Callable[[J], J]:
    """Marks an async function as a job a worker may run, with its retry policy and how
    arguments that are no ids show in logs."""
    policy = JobPolicy(once=once, retry_on=retry_on, shown=dict(shown or {}))

    def mark(function: J) -> J:
        REGISTRY[job_name(function)] = (function, policy)
        return function

    return mark


class JobsUnavailable(DomainError):
    """The broker did not take the job."""

    status_code = 503
    detail = "JOBS_UNAVAILABLE"


class Jobs(Protocol):
    name: str

    async def submit(self, job: Job, **kwargs: Any) -> None: ...


# How each job ended, counted in the shared store (Redis: summed over every worker and
# host) under one key; /metrics reads it at each scrape.
OUTCOMES_KEY = "jobs:outcomes"
OUTCOMES = ("succeeded", "retried", "failed")


async def record_outcome(store: KeyValueStore, name: str, outcome: str) -> None:
    """Counts one end of job `name`; a count the store cannot take is logged, never raised
    (the job itself is done either way)."""
    try:
        await store.tally(OUTCOMES_KEY, f"{name}|{outcome}")
    except Exception:  # pylint: disable=broad-exception-caught  # metrics never fail a job
        logger.warning("job %s: outcome %s not counted", name, outcome, exc_info=True)


async def outcome_counts(store: KeyValueStore) -> dict[tuple[str, str], int]:
    """(job name, outcome) -> how many times, over every process that shares the store."""
    counts = {}
    for entry, count in (await store.tallies(OUTCOMES_KEY)).items():
        name, _, outcome = entry.rpartition("|")
        counts[(name, outcome)] = count
    return counts


async def run_logged(job: Job, ctx: JobContext, kwargs: dict[str, Any]) -> None:
    """Runs a job in this process; a failure is logged, never raised (the answer is gone)."""
    try:
        await job(ctx, **kwargs)
    except Exception:  # pylint: disable=broad-exception-caught  # after the answer: log it
        logger.exception("job %s failed", job_name(job))
        await record_outcome(ctx.store, job_name(job), "failed")
    else:
        await record_outcome(ctx.store, job_name(job), "succeeded")


class InProcessJobs:
    """No broker: the job runs after the answer (in a request) or at once (CLI)."""

    name = "in-process"

    def __init__(self, ctx: JobContext, background: BackgroundTasks | None = None) -> None:
        self.ctx = ctx
        self.background = background

    async def submit(self, job: Job, **kwargs: Any) -> None:
        if self.background is not None:
            self.background.add_task(run_logged, job, self.ctx, kwargs)
        else:
            await run_logged(job, self.ctx, kwargs)


class CeleryJobs:
    """Publishes to the broker; a worker on any host runs the job."""

    name = "celery"

    def __init__(self, celery: Celery, queue: str) -> None:
        self.celery = celery
        self.queue = queue

    async def submit(self, job: Job, **kwargs: Any) -> None:
        name = job_name(job)
        _, policy = REGISTRY.get(name, (job, JobPolicy()))
        # kombu publishes synchronously; a thread keeps the event loop free meanwhile.
        # The worker's lines show `kwargsrepr`, never the arguments themselves.
        try:
            await asyncio.to_thread(
                self.celery.send_task,
                name,
                kwargs=kwargs,
                queue=self.queue,
                argsrepr="()",
                kwargsrepr=policy.kwargs_repr(kwargs),
                # The request that queued the job: the worker's lines for it carry its id.
                headers={REQUEST_ID_HEADER: request_id_var.get()},
            )
        except Exception as exc:
            logger.error("job %s not queued: %s: %s", job_name(job), type(exc).__name__, exc)
            raise JobsUnavailable(job_name(job)) from exc


def create_celery(settings: Settings) -> Celery:
    """The Celery app for CELERY_BROKER_URL: what the web publishes with and workers run."""
    celery = Celery("studylog", broker=settings.CELERY_BROKER_URL or None, set_as_current=False)
    celery.conf.update(
        task_default_queue=settings.CELERY_QUEUE,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        # Acknowledged only when the job has finished: a worker killed mid-job leaves the
        # message to another worker (RabbitMQ at once, Redis after the visibility timeout).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One message at a time per process, so a busy worker holds nothing another could run.
        worker_prefetch_multiplier=1,
        task_time_limit=settings.JOB_TIME_LIMIT_SECONDS,
        task_soft_time_limit=max(1, settings.JOB_TIME_LIMIT_SECONDS - 1),
        # Read by the Redis transport only: unacknowledged messages older than the
        # visibility timeout go back to the queue; look for them every few seconds.
        broker_transport_options={
            # RabbitMQ: a publish returns once the broker has taken the message, so a 202
            # means the job is in the queue (ignored by the Redis transport).
            "confirm_publish": True,
            "visibility_timeout": settings.broker_visibility_timeout,
            "unacked_restore_interval": max(1, min(10, settings.broker_visibility_timeout // 5)),
            "unacked_restore_throttle": 1,
        },
        broker_connection_timeout=PUBLISH_TIMEOUT_SECONDS,
        broker_connection_retry_on_startup=True,
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
        timezone="UTC",
        beat_schedule_filename=str(settings.BEAT_SCHEDULE_FILE),
    )
    return celery


def queue_length(connection: Any, queue: str) -> int:
    """Messages waiting in `queue` on an open kombu connection (0 for a queue not declared
    yet); RabbitMQ and the Redis transport both answer a passive declare."""
    try:
        declared = connection.default_channel.queue_declare(queue=queue, passive=True)
    except (ChannelError, NotFound, OperationalError):
        return 0
    return int(declared.message_count)


def broker_status(
    celery: Celery, queue: str, *, timeout: float = 3.0, ping_workers: bool = True
) -> dict[str, Any]:
    """Whether the broker answers, which workers answer a ping, how many messages wait."""
    status: dict[str, Any] = {"reachable": False, "workers": [], "queue": queue, "queued": None}
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
            status["reachable"] = True
            status["queued"] = queue_length(connection, queue)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # reported, not raised
        status["error"] = f"{type(exc).__name__}: {exc}"
        return status
    if not ping_workers:
        return status
    replies = celery.control.ping(timeout=1.0) or []
    status["workers"] = sorted(name for reply in replies for name in reply)
    return status
