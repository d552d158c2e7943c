"""The application factory: lifespan, middleware and routers. Nothing else."""

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

from celery import Celery
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import flows
from app.audit import partitions
from app.audit import service as audit_service
from app.audit.recorder import AuditRecorder
from app.audit.router import router as audit_router
from app.audit.writer import AuditWriter
from app.auth import sessions
from app.auth.sessions import SessionCache
from app.health.router import liveness
from app.health.router import router as health_router
from app.http.direct import front_route
from app.http.docs import add_docs
from app.http.errors import domain_error_handler, http_error_handler, validation_error_handler
from app.http.guards import HostCheck, RequestLimits
from app.http.middleware import InputGuard, RequestObserver
from app.http.openapi import operation_id
from app.http.routing import include_gated, plain_route
from app.http.state import AppState
from app.jobs.runner import broker_status, create_celery, outcome_counts
from app.notify.mail import create_mail_sender
from app.notify.sms import create_sms_sender
from app.platform import metrics
from app.platform.breaker import StoreBreaker
from app.platform.db import register_tortoise
from app.platform.errors import DomainError
from app.platform.logging import configure_logging
from app.platform.store import create_store
from app.study import exports
from app.study.crud import create_directly
from app.study.router import router as study_router
from app.users import passwords
from app.users.auth_router import auth as auth_router
from app.users.router import count_answer as users_count_answer
from app.users.router import users as users_router
from settings import Settings
from settings import settings as default_settings

OPENAPI_URL = "/openapi.json"
API_PREFIX = "/api/v1"
# No request of this API needs more; larger ones are refused unread (413, 414, 431).
MAX_REQUEST_BODY_BYTES = 1024 * 1024
MAX_QUERY_BYTES = 8 * 1024
MAX_HEADER_BYTES = 16 * 1024
# Every account request is a small JSON or form body; anything bigger is refused unparsed.
ACCOUNT_BODY_LIMITS = (("/api/v1/auth/", 64 * 1024), ("/api/v1/users", 64 * 1024))


def _metrics_sampler(
    settings: Settings, audit_writer: AuditWriter | None
) -> AbstractAsyncContextManager[None]:
    if not settings.METRICS_ENABLED:
        return nullcontext()
    if audit_writer is None:
        return metrics.sampler(None)
    writer = audit_writer
    return metrics.sampler(lambda: (writer.queued, writer.dropped))


def _queue_length(celery: Celery | None, queue: str) -> Callable[[float], int | None] | None:
    """How many jobs wait in the broker's queue (for the metrics); None without a broker."""
    if celery is None:
        return None
    broker = celery

    def queued(timeout: float) -> int | None:
        return broker_status(broker, queue, timeout=timeout, ping_workers=False)["queued"]

    return queued


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or default_settings
    configure_logging(settings.LOG_LEVEL, settings.log_format)
    passwords.use_hash_threads(settings.hash_threads)
    audit_writer = AuditWriter.from_settings(settings) if settings.AUDIT_ENABLED else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store = create_store(settings.REDIS_URL, prefix=settings.REDIS_KEY_PREFIX)
        app.state.mail = create_mail_sender(settings)
        app.state.sms = create_sms_sender(settings)
        if audit_writer is not None:
            # A deleted user's queued entries lose its id (marks shared through the store).
            audit_writer.deleted_users = functools.partial(
                audit_service.deleted_among,
                store=app.state.store,
                existing=sessions.existing_user_ids,
                breaker=StoreBreaker(),
            )
        # Only a store every worker shares can carry the cache's invalidations.
        app.state.session_cache = (
            SessionCache(settings.AUTH_CACHE_SECONDS)
            if settings.AUTH_CACHE_SECONDS > 0 and app.state.store.name == "redis"
            else None
        )
        try:
            async with register_tortoise(app, settings), _metrics_sampler(settings, audit_writer):
                # The audit queue is written while the database is still open.
                if audit_writer is not None:
                    audit_writer.start()
                try:
                    yield
                finally:
                    if audit_writer is not None:
                        await audit_writer.stop()
        finally:
            await app.state.store.close()
            if app.state.celery is not None:
                await asyncio.to_thread(app.state.celery.close)

    app = FastAPI(
        title="Study Log",
        version="1.0.0",
        lifespan=lifespan,
        # /docs and /redoc are served by app.http.docs, with their assets (no CDN).
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_URL if settings.docs_enabled else None,
        generate_unique_id_function=operation_id,
        # FastAPI's OpenTelemetry hooks looked up providers on every request; the service
        # exports its own Prometheus metrics (METRICS_ENABLED) instead.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state = AppState()
    app.state.settings = settings
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(DomainError, domain_error_handler)
    app.state.audit_writer = audit_writer
    # Without a broker, jobs run in this process (app/jobs/runner.py).
    app.state.celery = create_celery(settings) if settings.CELERY_BROKER_URL else None
    jobs_probe = metrics.EveryInterval(
        functools.partial(
            metrics.sample_jobs,
            _queue_length(app.state.celery, settings.CELERY_QUEUE),
            exports.counts_by_status,
            lambda: outcome_counts(app.state.store),
        ),
        settings.METRICS_JOBS_EVERY_SECONDS,
    )

    async def metrics_probe() -> None:
        await jobs_probe()
        await metrics.sample_audit_partitions(partitions.figures)

    app.state.metrics_probe = metrics_probe
    # Deregistration crosses domains: the users domain is handed the flow that does it.
    app.state.remove_account = flows.remove_account

    # Added innermost first. A request meets, in order:
    #   RequestObserver: its time for the metrics, its request id, its audit entry, the
    #                    Host check (it sees the final status of every request);
    #   CORS, when configured;
    #   InputGuard:      the JSON 500 guard, the size limits, the text guard;
    # then FastAPI's exception handlers and the routes (app/http/middleware.py).
    app.add_middleware(
        InputGuard,
        limits=RequestLimits(
            max_body_bytes=MAX_REQUEST_BODY_BYTES,
            max_query_bytes=MAX_QUERY_BYTES,
            max_header_bytes=MAX_HEADER_BYTES,
            body_limits_by_prefix=ACCOUNT_BODY_LIMITS,
        ),
    )
    if settings.CORS_ORIGINS:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.CORS_ORIGINS,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(
        RequestObserver,
        hosts=HostCheck(settings.allowed_hosts),
        audit=(
            AuditRecorder(
                writer=audit_writer,
                exclude_paths=settings.AUDIT_EXCLUDE_PATHS,
                trusted_proxies=settings.TRUSTED_PROXIES,
            )
            if audit_writer is not None
            else None
        ),
        count_metrics=settings.METRICS_ENABLED,
        access_log=settings.ACCESS_LOG,
    )

    if settings.docs_enabled:
        add_docs(app, openapi_url=OPENAPI_URL)
    # Routes are matched in order, one pattern after another, so the busiest come first:
    # the liveness check and the public user count (served by Starlette alone, ahead of
    # their documented routes), a record's create with a valid JSON body (answered before
    # FastAPI's routing; the documented route answers the rest), the study records, then
    # the account routes. No path of one router is a path of another, so the order changes
    # nothing else; and a router's gate (its shared prefix) lets a request pass over the
    # routers it cannot match without trying their routes.
    app.router.routes[:0] = [
        liveness,
        plain_route(f"{API_PREFIX}/users/count", users_count_answer),
        front_route(f"{API_PREFIX}/study-records", "POST", create_directly),
    ]
    include_gated(app, health_router)
    include_gated(app, study_router, prefix=API_PREFIX)
    include_gated(app, users_router, prefix=API_PREFIX)
    include_gated(app, auth_router, prefix=API_PREFIX)
    include_gated(app, audit_router)
    if settings.METRICS_ENABLED:
        app.include_router(metrics.router)
    return app
