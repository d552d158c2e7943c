"""The account jobs: verification and reset mails, phone notices, SMS codes. Each runs at
most once per message and is retried, with backoff, when the mail server or the SMS
provider may take it later (app/jobs/worker.py runs them; without a broker, the web process
after the answer)."""

from __future__ import annotations

import smtplib

from app.jobs.runner import JobContext, job
from app.notify.sms import SmsRetryable
from app.platform.phone import masked
from app.users import codes, service

# Worth another try later: the mail server refused (4xx/5xx), timed out or was away; the
# SMS provider asked to slow down, failed itself or did not answer.
RETRYABLE: tuple[type[BaseException], ...] = (smtplib.SMTPException, OSError, SmsRetryable)


@job(once=True, retry_on=RETRYABLE)
async def send_verify_mail(ctx: JobContext, *, user_id: str) -> None:
    await service.send_verify_mail(user_id=user_id, settings=ctx.settings, mail=ctx.mail)


@job(once=True, retry_on=RETRYABLE)
async def send_reset_password_mail(ctx: JobContext, *, user_id: str) -> None:
    await service.send_reset_password_mail(user_id=user_id, settings=ctx.settings, mail=ctx.mail)


@job(once=True, retry_on=RETRYABLE)
async def send_phone_notice(ctx: JobContext, *, user_id: str, change: str) -> None:
    await service.send_phone_notice(
        user_id=user_id, change=change, settings=ctx.settings, mail=ctx.mail
    )


def _sealed(_: object) -> str:
    return "<sealed>"


# Celery's lines show the phone masked and the sealed code not at all.
@job(once=True, retry_on=RETRYABLE, shown={"phone": masked, "sealed_code": _sealed})
async def send_sms_code(ctx: JobContext, *, phone: str, sealed_code: str) -> None:
    await codes.deliver(
        phone=phone, sealed_code=sealed_code, settings=ctx.settings, store=ctx.store, sms=ctx.sms
    )
