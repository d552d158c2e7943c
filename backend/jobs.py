"""The Celery app: `celery -A backend.jobs worker` runs the jobs, `celery -A backend.jobs beat`
(one per deployment) schedules the upkeep.

Each worker process opens Tortoise and the store (Redis) once, on an event loop of its own
(`worker_process_init`), and closes them when it stops (`worker_process_shutdown`). A task
body runs one domain job function on that loop; the task adds only the retry policy and,
for mail and SMS, a done-marker so a redelivered message sends nothing twice. Messages carry
ids, never tokens or secrets; an SMS code travels only sealed.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import typer
from celery import Task, signals
from celery.beat import PersistentScheduler
from tortoise import Tortoise
from tortoise.context import TortoiseContext

from app.audit.service import purge_expired
from app.core.db import tortoise_config
from app.core.jobs import (
    Job,
    JobContext,
    broker_status,
    create_celery,
    job_name,
    record_outcome,
)
from app.core.logging import configure_logging
from app.core.mail import create_mail_sender
from app.core.sms import SmsRetryable, create_sms_sender
from app.core.store import create_store
from app.study import exports
from app.users.manager import send_reset_password_mail, send_verify_mail
from app.users.phone import send_sms_code
from backend.common import current_settings, out_console, print_json, print_table
from backend.common import run as run_command

T = TypeVar("T")

logger = logging.getLogger(__name__)

settings = current_settings()
app = create_celery(settings)

# Failures worth another try later: the mail server refused (4xx/5xx), timed out or was away;
# the SMS provider asked to slow down, failed itself or did not answer.
RETRYABLE: tuple[type[BaseException], ...] = (smtplib.SMTPException, OSError, SmsRetryable)
# How long a finished mail job's message id is remembered (past any redelivery).
DONE_MARKER_SECONDS = 7 * 86_400


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
        tortoise = loop.run_until_complete(Tortoise.init(config=tortoise_config(settings)))
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
    configure_logging(settings.LOG_LEVEL, settings.log_format)


@signals.worker_init.connect
@signals.beat_init.connect
def _require_broker(**_: Any) -> None:
    # Celery would otherwise fall back to amqp://localhost and take whatever is queued there.
    if not settings.CELERY_BROKER_URL:
        logger.error("CELERY_BROKER_URL is empty: no worker or beat without a broker")
        raise SystemExit(1)


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


def _count(job: Job, outcome: str) -> None:
    runtime = open_runtime()
    runtime.run(record_outcome(runtime.ctx.store, job_name(job), outcome))


def run(job: Job, **kwargs: Any) -> Any:
    """Runs a job function to its end on this process's loop, counting how it ended."""
    try:
        result = _execute(job, **kwargs)
    except Exception:
        _count(job, "failed")
        raise
    _count(job, "succeeded")
    return result


def run_once(task: Task, job: Job, **kwargs: Any) -> None:
    """Runs a job that must not repeat (mail): skipped when this message already did it;
    retried with exponential backoff on a retryable failure, then logged as failed."""
    runtime = open_runtime()
    marker = f"job-done:{task.request.id}"
    if runtime.run(runtime.ctx.store.exists(marker)):
        logger.info("job %s[%s] already done", task.name, task.request.id)
        return
    try:
        _execute(job, **kwargs)
    except RETRYABLE as exc:
        tries = task.request.retries
        if tries >= settings.JOB_RETRY_MAX:
            _count(job, "failed")
            logger.error(
                "job %s[%s] failed after %d tries: %s: %s",
                task.name,
                task.request.id,
                tries + 1,
                type(exc).__name__,
                exc,
            )
            return
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
        _count(job, "retried")
        raise task.retry(exc=exc, countdown=countdown, max_retries=settings.JOB_RETRY_MAX) from exc
    except Exception:
        _count(job, "failed")
        raise
    runtime.run(runtime.ctx.store.set(marker, "1", ttl_seconds=DONE_MARKER_SECONDS))
    _count(job, "succeeded")


@app.task(bind=True, name=job_name(send_verify_mail))
def send_verify_mail_task(self: Task, *, user_id: str) -> None:
    run_once(self, send_verify_mail, user_id=user_id)


@app.task(bind=True, name=job_name(send_reset_password_mail))
def send_reset_password_mail_task(self: Task, *, user_id: str) -> None:
    run_once(self, send_reset_password_mail, user_id=user_id)


@app.task(bind=True, name=job_name(send_sms_code))
def send_sms_code_task(self: Task, *, phone: str, sealed_code: str) -> None:
    run_once(self, send_sms_code, phone=phone, sealed_code=sealed_code)


@app.task(name=job_name(exports.run))
def run_export_task(*, job_id: str) -> None:
    run(exports.run, job_id=job_id)  # the job row keeps it idempotent


@app.task(name=job_name(exports.remove_expired))
def remove_expired_exports_task() -> int:
    return run(exports.remove_expired)


@app.task(name=job_name(purge_expired))
def purge_audit_task() -> int:
    return run(purge_expired)


class Scheduler(PersistentScheduler):
    """Celery's file-backed schedule, in a directory made if missing (var/ by default)."""

    def setup_schedule(self) -> None:
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        super().setup_schedule()


app.conf.beat_scheduler = f"{__name__}:Scheduler"
app.conf.beat_schedule = {
    "audit-purge": {
        "task": job_name(purge_expired),
        "schedule": settings.AUDIT_PURGE_EVERY_SECONDS,
    },
    "remove-expired-exports": {
        "task": job_name(exports.remove_expired),
        "schedule": settings.EXPORT_CLEANUP_EVERY_SECONDS,
    },
}


# --- `python run.py jobs status` ----------------------------------------------------------

cli = typer.Typer(help="Background jobs: the broker, the workers, the queue.", no_args_is_help=True)


def _masked(url: str) -> str:
    """The broker URL without its password."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


@cli.command("status")
def status_command(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Broker reachable, workers answering, queue length, export jobs by status."""
    current = current_settings()
    report: dict[str, Any] = {"broker": None, "reachable": None, "workers": [], "queued": None}
    if current.CELERY_BROKER_URL:
        celery = create_celery(current)
        try:
            report.update(broker_status(celery, current.CELERY_QUEUE))
        finally:
            celery.close()
        report["broker"] = _masked(current.CELERY_BROKER_URL)
    report["export_jobs"] = run_command(exports.counts_by_status)
    if as_json:
        print_json(report)
    else:
        broker = report["broker"] or "none: jobs run in the web process (CELERY_BROKER_URL empty)"
        out_console.print(f"broker: {broker}", highlight=False)
        if report["broker"]:
            out_console.print(
                f"reachable: {'yes' if report['reachable'] else 'NO ' + report.get('error', '')}",
                highlight=False,
            )
            out_console.print(f"workers answering: {len(report['workers'])}", highlight=False)
            for name in report["workers"]:
                out_console.print(f"  {name}", highlight=False)
            out_console.print(
                f"queue {current.CELERY_QUEUE}: {report['queued']} waiting", highlight=False
            )
        print_table("export jobs", ["status", "jobs"], report["export_jobs"].items())
    if report["broker"] and not report["reachable"]:
        raise typer.Exit(1)
