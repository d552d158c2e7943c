"""Outgoing SMS codes behind one small interface, like mail.

`AliyunSmsSender` sends through Alibaba Cloud SMS (`SendSms` with the official SDK, to
ALIYUN_SMS_ENDPOINT); `LogSmsSender` writes the code to the log (development only: the
settings refuse it in production); `NoSmsSender` is `SMS_BACKEND=none`, where the SMS
routes answer 503 and nothing is ever sent.

A failed send raises `SmsRetryable` when another try later can help (a refused
connection, the provider's flow control or its own failure; `SmsUnanswered`, a timeout
after the request went out, which may have been sent) and `SmsRefused` when it
cannot (a number the provider calls illegal, a wrong template or credentials). Neither
message ever holds the code.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol
from urllib.parse import urlsplit

from alibabacloud_dysmsapi20170525 import models as dysms_models
from alibabacloud_dysmsapi20170525.client import Client as DysmsClient
from alibabacloud_tea_openapi import utils_models as openapi_models
from darabonba.exceptions import ResponseException, RetryError, UnretryableException

from app.platform.phone import masked
from settings import Settings

logger = logging.getLogger(__name__)

# The SDK's transport logger prints whole request URLs, code included, to stderr when the
# DEBUG environment variable is set: never let it write below INFO.
logging.getLogger("darabonba-core").setLevel(logging.INFO)

# Provider answers where a later try can succeed; every other code is given up at once.
# Flow control (per number per minute or hour) and the provider's own trouble pass; an
# illegal number, a bad sign name or template, no balance, a blacklisted number or the
# daily cap for a number do not.
RETRYABLE_CODES = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",
        "isp.SYSTEM_ERROR",
        "isp.GATEWAY_ERROR",
        "SignatureNonceUsed",
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "ServiceUnavailable",
        "InternalError",
    }
)


class SmsError(Exception):
    """Sending failed. `code` is the provider's error code, or the kind of network failure."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


class SmsRetryable(SmsError):
    """Another try later may succeed."""


class SmsUnanswered(SmsRetryable):
    """No answer after the request went out (a read timeout, a connection dropped): the
    provider may have taken it and sent the message. Retried at most once."""


class SmsRefused(SmsError):
    """The provider will not send this, however often asked."""


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


def retryable(code: str, status_code: int | None = None) -> bool:
    """Whether a provider error code (and HTTP status) is worth another try."""
    if code in RETRYABLE_CODES or code.startswith("Throttling"):
        return True
    return status_code is not None and status_code >= 500


def _scrubbed(text: str, code: str) -> str:
    return text.replace(code, "******") if code else text


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
            message = _scrubbed(str(getattr(body, "message", "") or ""), code)
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
        return error(provider_code, _scrubbed(str(exc.message or ""), code))
    if isinstance(exc, (UnretryableException, RetryError, OSError)):
        # No answer (the SDK wraps the cause): a connection never made reached nobody; a
        # timeout or a dropped connection after the request went out may have been sent.
        cause = str(getattr(exc, "inner_exception", None) or exc).lower()
        if "connect" in cause or isinstance(exc, ConnectionRefusedError):
            return SmsRetryable(type(exc).__name__)
        return SmsUnanswered(type(exc).__name__)
    # The SDK refused the request before sending it (a missing parameter, …).
    return SmsRefused(type(exc).__name__)


def create_sms_sender(settings: Settings) -> SmsSender:
    backend = settings.sms_backend
    if backend == "aliyun":
        return AliyunSmsSender(settings)
    if backend == "log":
        return LogSmsSender()
    return NoSmsSender()
