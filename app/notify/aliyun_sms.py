"""Alibaba Cloud SMS (`SendSms` with the official SDK, to ALIYUN_SMS_ENDPOINT): the sender
of `SMS_BACKEND=aliyun`, imported by app/notify/sms.py only for that backend."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

from alibabacloud_dysmsapi20170525 import models as dysms_models
from alibabacloud_dysmsapi20170525.client import Client as DysmsClient
from alibabacloud_tea_openapi import utils_models as openapi_models
from darabonba.exceptions import ResponseException, RetryError, UnretryableException

from app.notify.sms_errors import (
    SmsError,
    SmsRefused,
    SmsRetryable,
    SmsUnanswered,
    retryable,
    scrubbed,
)
from app.platform.phone import masked
from settings import Settings

logger = logging.getLogger("app.notify.sms")

# The SDK's transport logger prints whole request URLs, code included, to stderr when the
# DEBUG environment variable is set: never let it write below INFO.
logging.getLogger("darabonba-core").setLevel(logging.INFO)


class AliyunSmsSender:
    """Alibaba Cloud SMS: the template ALIYUN_SMS_TEMPLATE_CODE with `{"code": …}`, signed
    ALIYUN_SMS_SIGN_NAME, through the SDK's asyncio client."""

    name = "aliyun"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: DysmsClient | None = None

    def client(self) -> DysmsClient:
        if self._client is None:
            s = self.settings
            endpoint = urlsplit(s.ALIYUN_SMS_ENDPOINT)
            timeout_ms = int(s.SMS_TIMEOUT_SECONDS * 1000)
            self._client = DysmsClient(
                openapi_models.Config(
                    access_key_id=s.ALIYUN_ACCESS_KEY_ID,
                    access_key_secret=s.ALIYUN_ACCESS_KEY_SECRET,
                    endpoint=endpoint.netloc,
                    protocol=endpoint.scheme,
                    connect_timeout=timeout_ms,
                    read_timeout=timeout_ms,
                )
            )
        return self._client

    async def send_code(self, *, phone: str, code: str, out_id: str = "") -> None:
        request = dysms_models.SendSmsRequest(
            # Ours, echoed in the provider's delivery receipts: one id for every try of a code.
            out_id=out_id or None,
            # The provider takes the country code without the plus (86… for mainland China).
            phone_numbers=phone.removeprefix("+"),
            sign_name=self.settings.ALIYUN_SMS_SIGN_NAME,
            template_code=self.settings.ALIYUN_SMS_TEMPLATE_CODE,
            template_param=json.dumps({"code": code}, separators=(",", ":")),
        )
        try:
            response = await self.client().send_sms_async(request)
        except Exception as exc:
            raise _classified(exc, code) from None
        body: Any = response.body
        answer = getattr(body, "code", None) or ""
        if answer != "OK":
            message = scrubbed(str(getattr(body, "message", "") or ""), code)
            error = SmsRetryable if retryable(answer) else SmsRefused
            raise error(answer or "no answer code", message)
        logger.info(
            "SMS to %s accepted by Alibaba Cloud (BizId %s, OutId %s)",
            masked(phone),
            getattr(body, "biz_id", None),
            out_id,
        )


def _classified(exc: Exception, code: str) -> SmsError:
    """The SDK's exception as ours, with nothing of the request (its URL holds the code)."""
    if isinstance(exc, ResponseException):  # the provider answered 4xx or 5xx
        # The SDK writes a missing code as the text "None".
        provider_code = exc.code if exc.code and exc.code != "None" else f"HTTP {exc.status_code}"
        error = SmsRetryable if retryable(provider_code, exc.status_code) else SmsRefused
        return error(provider_code, scrubbed(str(exc.message or ""), code))
    if isinstance(exc, (UnretryableException, RetryError, OSError)):
        # No answer (the SDK wraps the cause): a connection never made reached nobody; a
        # timeout or a dropped connection after the request went out may have been sent.
        cause = str(getattr(exc, "inner_exception", None) or exc).lower()
        if "connect" in cause or isinstance(exc, ConnectionRefusedError):
            return SmsRetryable(type(exc).__name__)
        return SmsUnanswered(type(exc).__name__)
    # The SDK refused the request before sending it (a missing parameter, …).
    return SmsRefused(type(exc).__name__)
