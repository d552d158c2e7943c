"""The Celery worker: `celery -A app.jobs.worker worker` runs the jobs, `celery -A
app.jobs.worker beat` (one per deployment) schedules the upkeep (app/jobs/schedule.py).

The worker discovers the jobs: it imports each domain's `tasks.py` (JOB_MODULES, named
here, not imported by this package) and registers one Celery task per function marked
`@job`, under the function's own name, with the retry policy the domain gave it.

Each worker process opens Tortoise and the store (Redis) once, on an event loop of its own
(`worker_process_init`), and closes them when it stops (`worker_process_shutdown`). A task
runs one job function on that loop; the task adds only the retry policy and, for jobs
marked `once` (mail, SMS), a done-marker so a redelivered message sends nothing twice.
Messages carry ids, never tokens or secrets; an SMS code travels only sealed.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from celery import Task, signals
from celery.beat import PersistentScheduler
from tortoise import Tortoise
from tortoise.context import TortoiseContext

from app.jobs.programs import log_like_the_service
from app.jobs.runner import (
    REGISTRY,
    REQUEST_ID_HEADER,
    Job,
    JobContext,
    JobPolicy,
    create_celery,
    record_outcome,
)
from app.jobs.schedule import beat_schedule
from app.notify.mail import create_mail_sender
from app.notify.sms import create_sms_sender
from app.platform.context import request_id_var
from app.platform.db import process_config
from app.platform.store import create_store
from settings import settings

T = TypeVar("T")

logger = logging.getLogger(__name__)

# The domains' job modules, by name: the worker imports them; nothing in app/jobs does.
JOB_MODULES = ("app.users.tasks", "app.study.tasks", "app.audit.tasks")
# How long a finished `once` job's message id is remembered (past any redelivery).
DONE_MARKER_SECONDS = 7 * 86_400

app = create_celery(settings)
# Celery's worker and beat programs with their banners and shutdown messages as log lines.
app.Worker = app.subclass_with_self("app.jobs.programs:Worker")
app.Beat = app.subclass_with_self("app.jobs.programs:Beat")


@dataclass
class _Runtime:
    loop: asyncio.AbstractEventLoop
    tortoise: TortoiseContext
    ctx: JobContext

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Runs to the end on this process's loop, inside its Tortoise context."""
        with self.tortoise:
            return self.loop.run_until_complete(coroutine)


class _ThisProcess:
    """The one runtime of this worker process."""

    runtime: _Runtime | None = None


def open_runtime() -> _Runtime:
    """This process's event loop with Tortoise and the store open on it (once)."""
    if _ThisProcess.runtime is None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        # Each run_until_complete is a task of its own: the context returned here is entered
        # around every one of them (Tortoise keeps its connections in a context variable).
        tortoise = loop.run_until_complete(Tortoise.init(config=process_config(settings)))
        ctx = JobContext(
            settings=settings,
            store=create_store(settings.REDIS_URL, prefix=settings.REDIS_KEY_PREFIX),
            mail=create_mail_sender(settings),
            sms=create_sms_sender(settings),
        )
        _ThisProcess.runtime = _Runtime(loop=loop, tortoise=tortoise, ctx=ctx)
    return _ThisProcess.runtime


def close_runtime() -> None:
    runtime, _ThisProcess.runtime = _ThisProcess.runtime, None
    if runtime is None:
        return
    try:
        runtime.run(runtime.ctx.store.close())
        runtime.run(Tortoise.close_connections())
    finally:
        runtime.loop.close()


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    # The service's log format for Celery's lines too (and Celery keeps its hands off).
    log_like_the_service()


@signals.worker_init.connect
@signals.beat_init.connect
def _require_broker(**_: Any) -> None:
    # Celery would otherwise fall back to amqp://localhost and take whatever is queued there.
    if not settings.CELERY_BROKER_URL:
        logger.error("CELERY_BROKER_URL is empty: no worker or beat without a broker")
        raise SystemExit(1)


def _queued_by(task: Task) -> str | None:
    """The id of the request that queued this run (CeleryJobs.submit's header)."""
    request = task.request
    value = getattr(request, REQUEST_ID_HEADER, None) or (request.headers or {}).get(
        REQUEST_ID_HEADER
    )
    return value if isinstance(value, str) and value else None


@signals.task_prerun.connect
def _bind_request_id(task: Task, **_: Any) -> None:
    # Every line of the run (the job's own and Celery's about it) names that request.
    request_id_var.set(_queued_by(task))


@signals.task_postrun.connect
def _unbind_request_id(**_: Any) -> None:
    request_id_var.set(None)


@signals.worker_process_init.connect
def _open_process(**_: Any) -> None:
    open_runtime()


@signals.worker_process_shutdown.connect
def _close_process(**_: Any) -> None:
    close_runtime()


@signals.worker_shutdown.connect
def _close_solo(**_: Any) -> None:
    close_runtime()  # the solo and threads pools run tasks in the main process


def _execute(job: Job, **kwargs: Any) -> Any:
    runtime = open_runtime()
    return runtime.run(job(runtime.ctx, **kwargs))


def _count(task: Task, outcome: str) -> None:
    runtime = open_runtime()
    runtime.run(record_outcome(runtime.ctx.store, task.name, outcome))


def run(task: Task, job: Job, policy: JobPolicy, **kwargs: Any) -> Any:
    """Runs a job to its end on this process's loop, counting how it ended: skipped when a
    `once` job's message already did it; retried with exponential backoff on a failure its
    policy names, then logged as failed."""
    runtime = open_runtime()
    marker = f"job-done:{task.request.id}"
    if policy.once and runtime.run(runtime.ctx.store.exists(marker)):
        logger.info("job %s[%s] already done", task.name, task.request.id)
        return None
    try:
        result = _execute(job, **kwargs)
    except policy.retry_on as exc:
        tries = task.request.retries
        if tries >= settings.JOB_RETRY_MAX:
            _count(task, "failed")
            logger.error(
                "job %s[%s] failed after %d tries: %s: %s",
                task.name,
                task.request.id,
                tries + 1,
                type(exc).__name__,
                exc,
            )
            return None
        countdown = settings.JOB_RETRY_BACKOFF_SECONDS * 2**tries
        logger.warning(
            "job %s[%s] try %d failed (%s: %s); next in %.1f s",
            task.name,
            task.request.id,
            tries + 1,
            type(exc).__name__,
            exc,
            countdown,
        )
        _count(task, "retried")
        raise task.retry(
            exc=exc,
            countdown=countdown,
            max_retries=settings.JOB_RETRY_MAX,
            # The retried message shows its arguments masked like the first one.
            argsrepr="()",
            kwargsrepr=policy.kwargs_repr(kwargs),
        ) from exc
    except Exception:
        _count(task, "failed")
        raise
    if policy.once:
        runtime.run(runtime.ctx.store.set(marker, "1", ttl_seconds=DONE_MARKER_SECONDS))
    _count(task, "succeeded")
    return result


def _register(name: str, job: Job, policy: JobPolicy) -> None:
    def task(self: Task, **kwargs: Any) -> Any:
        return run(self, job, policy, **kwargs)

    task.__name__ = task.__qualname__ = name.rpartition(".")[2]
    app.task(bind=True, name=name)(task)


def discover() -> None:
    """Imports the domains' job modules and registers a task for each job they mark."""
    for module in JOB_MODULES:
        importlib.import_module(module)
    for name, (job, policy) in REGISTRY.items():
        if name not in app.tasks:
            _register(name, job, policy)


class Scheduler(PersistentScheduler):
    """Celery's file-backed schedule, in a directory made if missing (var/ by default)."""

    def setup_schedule(self) -> None:
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        super().setup_schedule()


discover()
app.conf.beat_scheduler = f"{__name__}:Scheduler"
app.conf.beat_schedule = beat_schedule(settings)
