"""The application's state, typed: what create_app and its lifespan put on `app.state`,
and the dependencies that hand it to routes."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from celery import Celery
from fastapi import BackgroundTasks, Depends, Request
from starlette.datastructures import State

from app.jobs.runner import CeleryJobs, InProcessJobs, Job, JobContext, Jobs
from app.notify.mail import MailSender
from app.notify.sms import SmsSender
from app.platform.store import KeyValueStore
from settings import Settings


class AppState(State):
    """`app.state` of this service: the same attribute access as Starlette's State, with
    every attribute named and typed here. The ones a domain provides are typed `Any`: this
    floor does not import domains."""

    settings: Settings
    # Made by the lifespan: the shared store (Redis, or in-process without REDIS_URL).
    store: KeyValueStore
    celery: Celery | None
    # Made by the lifespan: the MAIL_BACKEND's and SMS_BACKEND's senders (built once, so a
    # sender that warns it sends nothing says so at start-up, not on every request).
    mail: MailSender
    sms: SmsSender
    # app.auth.sessions.SessionCache, or None when sessions are not cached.
    session_cache: Any
    # app.audit.writer.AuditWriter, or None when the audit trail is off.
    audit_writer: Any
    # app.flows.remove_account: deregistration across the domains.
    remove_account: Callable[..., Awaitable[None]]
    # Sets the job gauges before a /metrics scrape.
    metrics_probe: Callable[[], Awaitable[None]]


def app_state(request: Request) -> AppState:
    return request.app.state  # type: ignore[no-any-return]  # create_app sets an AppState


async def get_settings(request: Request) -> Settings:
    return app_state(request).settings


async def get_store(request: Request) -> KeyValueStore:
    return app_state(request).store


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[KeyValueStore, Depends(get_store)]


async def get_mail_sender(request: Request) -> MailSender:
    return app_state(request).mail


MailSenderDep = Annotated[MailSender, Depends(get_mail_sender)]


async def get_sms_sender(request: Request) -> SmsSender:
    return app_state(request).sms


SmsSenderDep = Annotated[SmsSender, Depends(get_sms_sender)]


async def get_jobs(
    request: Request,
    background: BackgroundTasks,
    settings: SettingsDep,
    store: StoreDep,
    mail: MailSenderDep,
    sms: SmsSenderDep,
) -> Jobs:
    """The Celery queue when a broker is configured; this process, after the answer, if not."""
    celery = app_state(request).celery
    if celery is not None:
        return CeleryJobs(celery, settings.CELERY_QUEUE)
    return InProcessJobs(JobContext(settings=settings, store=store, mail=mail, sms=sms), background)


JobsDep = Annotated[Jobs, Depends(get_jobs)]


class LazyJobs:
    """`get_jobs`'s queue, made when a job is first submitted: for a dependency that builds
    what its route needs off the app state, in one node, and whose route usually queues
    nothing (a login). Its senders are the app's, as `get_mail_sender` and
    `get_sms_sender` give them."""

    def __init__(self, request: Request, background: BackgroundTasks) -> None:
        self._request = request
        self._background = background
        self._jobs: Jobs | None = None

    async def submit(self, job: Job, **kwargs: Any) -> None:
        if self._jobs is None:
            state = app_state(self._request)
            self._jobs = await get_jobs(
                self._request, self._background, state.settings, state.store, state.mail, state.sms
            )
        await self._jobs.submit(job, **kwargs)
