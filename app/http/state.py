"""Typed access to what the lifespan puts on `app.state`, and what is built from it."""

from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request

from app.jobs.runner import CeleryJobs, InProcessJobs, JobContext, Jobs
from app.notify.mail import MailSender, create_mail_sender
from app.notify.sms import SmsSender, create_sms_sender
from app.platform.store import KeyValueStore
from settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> KeyValueStore:
    return request.app.state.store


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[KeyValueStore, Depends(get_store)]


async def get_mail_sender(settings: SettingsDep) -> MailSender:
    return create_mail_sender(settings)


MailSenderDep = Annotated[MailSender, Depends(get_mail_sender)]


async def get_sms_sender(settings: SettingsDep) -> SmsSender:
    return create_sms_sender(settings)


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
    celery = request.app.state.celery
    if celery is not None:
        return CeleryJobs(celery, settings.CELERY_QUEUE)
    return InProcessJobs(JobContext(settings=settings, store=store, mail=mail, sms=sms), background)


JobsDep = Annotated[Jobs, Depends(get_jobs)]
