"""Celery's worker and beat programs, writing nothing but the service's log lines.

Celery prints a banner (ASCII art and the configuration) to stdout, says "worker: Warm
shutdown" straight to a file descriptor, and Python warnings raised before its logging is
set up (such as the superuser warning) go to stderr as text. With LOG_FORMAT=json a log
collector then finds lines it cannot read. Here the banner becomes one start line with the
same facts, the shutdown messages become log lines, warnings are captured into the log from
the first moment the worker or beat exists, and whatever else writes to stdout or stderr
afterwards (a print in a library) reaches the log as a line of its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import sys
from typing import Any

import celery.apps.worker
from celery import VERSION_BANNER
from celery.apps.beat import Beat as CeleryBeat
from celery.apps.worker import Worker as CeleryWorker

from app.platform.logging import TEXT_FORMAT, JsonFormatter, configure_logging
from settings import settings

logger = logging.getLogger(__name__)


def log_like_the_service() -> None:
    """The service's log format on stderr, Python warnings included. The handler writes to
    the process's own stderr (`sys.__stderr__`), which stays put when Celery points
    `sys.stdout` and `sys.stderr` at the log."""
    configure_logging(settings.LOG_LEVEL, settings.log_format, stream="ext://sys.__stderr__")
    logging.captureWarnings(True)


def say(msg: str, _where: Any = None) -> None:
    """`celery.apps.worker.safe_say` as a log line on stderr, wherever Celery meant to print
    it. Celery calls it from signal handlers, so it writes as the original does: one
    `os.write`, taking no lock a handler may hold."""
    record = logging.LogRecord(
        "celery.apps.worker", logging.INFO, __file__, 0, msg.strip(), None, None
    )
    record.request_id = "-"
    formatter = JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    line = formatter.format(record) + "\n"
    with contextlib.suppress(OSError, AttributeError, ValueError):  # no stderr left: say nothing
        os.write(sys.__stderr__.fileno(), line.encode())


class Worker(CeleryWorker):
    """`celery worker` (app.Worker) logging its start, its shutdown and stray output."""

    def on_before_init(self, quiet: bool = False, **kwargs: Any) -> None:
        # Before Celery's own start-up, which warns about running as root.
        log_like_the_service()
        # The shutdown and restart messages of Celery's signal handlers (module-level
        # functions that call this name) are log lines too.
        celery.apps.worker.safe_say = say
        super().on_before_init(quiet=quiet, **kwargs)

    def on_start(self) -> None:
        # Celery leaves stdout and stderr alone when the app sets its logging up itself
        # (setup_logging); this is its own redirection, by its own setting, made before
        # its start-up prints (`--purge` says what it erased) and before the pool forks.
        if self.redirect_stdouts:
            self.app.log.redirect_stdouts(self.redirect_stdouts_level)
        super().on_start()

    def emit_banner(self) -> None:
        """The banner's facts as one log line."""
        app = self.app
        pool = self.pool_cls if isinstance(self.pool_cls, str) else self.pool_cls.__module__
        queues = sorted(app.amqp.queues.consume_from)
        facts = {
            "hostname": self.hostname,
            "celery_version": VERSION_BANNER,
            "app": app.main,
            "transport": app.connection().as_uri(),  # the password masked
            "results": app.backend.as_uri(),
            "concurrency": self.concurrency,
            "pool": pool.rsplit(".", 1)[-1],
            "task_events": bool(self.task_events),
            "queues": queues,
            "tasks": sorted(name for name in app.tasks if not name.startswith("celery.")),
            "platform": platform.platform(),
        }
        logger.info(
            "worker %s starting: celery %s, transport %s, concurrency %s (%s), queues %s",
            facts["hostname"],
            VERSION_BANNER,
            facts["transport"],
            facts["concurrency"],
            facts["pool"],
            ", ".join(queues),
            extra={"worker": facts},
        )


class Beat(CeleryBeat):
    """`celery beat` (app.Beat): its banner as one log line."""

    def __init__(self, *args: Any, quiet: bool = False, **kwargs: Any) -> None:
        log_like_the_service()
        self.announce = not quiet
        # Celery's two banner prints are plain text: always quiet, the start line says it.
        super().__init__(*args, quiet=True, **kwargs)

    def install_sync_handler(self, service: Any) -> None:
        # Called once the service exists and logging is set up, just before it starts.
        super().install_sync_handler(service)
        if not self.announce:
            return
        scheduler = service.get_scheduler(lazy=True)
        facts = {
            "celery_version": VERSION_BANNER,
            "broker": self.app.connection().as_uri(),
            "scheduler": f"{type(scheduler).__module__}.{type(scheduler).__qualname__}",
            "schedule_file": str(self.schedule),
            "max_interval_seconds": scheduler.max_interval,
            "entries": sorted(self.app.conf.beat_schedule),
        }
        logger.info(
            "beat starting: celery %s, broker %s, schedule %s",
            VERSION_BANNER,
            facts["broker"],
            ", ".join(facts["entries"]),
            extra={"beat": facts},
        )
