"""Outgoing SMS codes behind one small interface, like mail.

`AliyunSmsSender` (app/notify/aliyun_sms.py, imported only when it is the backend: the
SDK is hundreds of modules and megabytes a process would otherwise hold for nothing)
sends through Alibaba Cloud SMS (`SendSms` with the official SDK, to ALIYUN_SMS_ENDPOINT);
`LogSmsSender` writes the code to the log (development only: the settings refuse it in
production); `NoSmsSender` is `SMS_BACKEND=none`, where the SMS routes answer 503 and
nothing is ever sent.

A failed send raises `SmsRetryable` when another try later can help (a refused
connection, the provider's flow control or its own failure; `SmsUnanswered`, a timeout
after the request went out, which may have been sent) and `SmsRefused` when it
cannot (a number the provider calls illegal, a wrong template or credentials). Neither
message ever holds the code.
"""

from __future__ import annotations

import logging
from typing import Protocol

from app.notify.sms_errors import (
    RETRYABLE_CODES,
    SmsError,
    SmsRefused,
    SmsRetryable,
    SmsUnanswered,
    retryable,
)
from app.platform.phone import masked
from settings import Settings

__all__ = [
    "RETRYABLE_CODES",
    "LogSmsSender",
    "NoSmsSender",
    "SmsDisabled",
    "SmsError",
    "SmsRefused",
    "SmsRetryable",
    "SmsSender",
    "SmsUnanswered",
    "create_sms_sender",
    "retryable",
]

logger = logging.getLogger(__name__)


class SmsDisabled(RuntimeError):
    """SMS_BACKEND=none."""


class SmsSender(Protocol):
    name: str

    async def send_code(self, *, phone: str, code: str, out_id: str = "") -> None:
        """Sends `code` to `phone` (E.164) as message `out_id` (the same for every try of
        one code); raises SmsRetryable (SmsUnanswered when it may have been sent) or
        SmsRefused."""
        ...


class NoSmsSender:
    name = "none"

    async def send_code(self, *, phone: str, code: str, out_id: str = "") -> None:
        raise SmsDisabled("SMS_BACKEND is none")


class LogSmsSender:
    """Codes into the log, for development (the settings refuse this backend in production);
    the number masked, as in every other log line."""

    name = "log"

    async def send_code(self, *, phone: str, code: str, out_id: str = "") -> None:
        logger.warning(
            "SMS to %s (SMS_BACKEND=log, not sent, OutId %s): code %s", masked(phone), out_id, code
        )


def create_sms_sender(settings: Settings) -> SmsSender:
    backend = settings.sms_backend
    if backend == "aliyun":
        from app.notify.aliyun_sms import (  # pylint: disable=import-outside-toplevel  # the SDK only where it is used
            AliyunSmsSender,
        )

        return AliyunSmsSender(settings)
    if backend == "log":
        return LogSmsSender()
    return NoSmsSender()
