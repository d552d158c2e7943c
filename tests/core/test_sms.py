"""The SMS senders: Alibaba Cloud's SendSms through the official SDK against the local
stand-in (signed requests, answers mapped to retry or give up), and the other backends."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from app.notify.aliyun_sms import AliyunSmsSender
from app.notify.sms import (
    LogSmsSender,
    NoSmsSender,
    SmsDisabled,
    SmsRefused,
    SmsRetryable,
    SmsUnanswered,
    create_sms_sender,
)
from settings import BASE_DIR, Settings
from tests.conftest import TEST_SECRET_KEY
from tests.fixtures.aliyun import (
    SIGN_NAME,
    TEMPLATE_CODE,
    AliyunStandIn,
    Answer,
    aliyun_settings,
)

PHONE = "+8613800138000"
CODE = "402913"


def sender_for(stand_in: AliyunStandIn, **extra: Any) -> AliyunSmsSender:
    settings = Settings(
        APP_ENV="test", SECRET_KEY=TEST_SECRET_KEY, **aliyun_settings(stand_in, **extra)
    )
    sender = create_sms_sender(settings)
    assert isinstance(sender, AliyunSmsSender)
    return sender


@pytest.fixture
def no_code_logged(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> Iterator[None]:
    """Nothing written while the test runs (log records, stdout, stderr) holds the code."""
    caplog.set_level(logging.DEBUG)
    yield
    out, err = capfd.readouterr()
    assert CODE not in caplog.text
    assert CODE not in out + err


async def test_sendsms_is_signed_and_carries_the_template_and_code(
    aliyun: AliyunStandIn, no_code_logged: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    del no_code_logged
    # The SDK's transport prints whole URLs (the code in the query) when DEBUG is set.
    monkeypatch.setenv("DEBUG", "sdk")
    await sender_for(aliyun).send_code(phone=PHONE, code=CODE)
    assert not aliyun.rejected
    [sms] = aliyun.sent
    assert (sms.phone_numbers, sms.sign_name, sms.template_code, sms.code) == (
        "8613800138000",
        SIGN_NAME,
        TEMPLATE_CODE,
        CODE,
    )


async def test_a_wrong_secret_fails_the_stand_ins_signature_check(aliyun: AliyunStandIn) -> None:
    with pytest.raises(SmsRefused) as refused:
        await sender_for(aliyun, ALIYUN_ACCESS_KEY_SECRET="not-the-secret").send_code(
            phone=PHONE, code=CODE
        )
    assert refused.value.code == "SignatureDoesNotMatch"
    assert aliyun.rejected == ["signature does not match"]
    assert not aliyun.sent


@pytest.mark.parametrize(
    ("answer", "error", "code"),
    [
        (Answer("isv.BUSINESS_LIMIT_CONTROL"), SmsRetryable, "isv.BUSINESS_LIMIT_CONTROL"),
        (Answer("isp.SYSTEM_ERROR"), SmsRetryable, "isp.SYSTEM_ERROR"),
        (Answer("Throttling.User", status=400), SmsRetryable, "Throttling.User"),
        (Answer("ServiceUnavailable", status=503), SmsRetryable, "ServiceUnavailable"),
        (Answer("isv.MOBILE_NUMBER_ILLEGAL"), SmsRefused, "isv.MOBILE_NUMBER_ILLEGAL"),
        (Answer("isv.SMS_TEMPLATE_ILLEGAL"), SmsRefused, "isv.SMS_TEMPLATE_ILLEGAL"),
        (Answer("isv.AMOUNT_NOT_ENOUGH"), SmsRefused, "isv.AMOUNT_NOT_ENOUGH"),
        (Answer("isv.DAY_LIMIT_CONTROL"), SmsRefused, "isv.DAY_LIMIT_CONTROL"),
        (
            Answer("InvalidAccessKeyId.NotFound", status=404),
            SmsRefused,
            "InvalidAccessKeyId.NotFound",
        ),
    ],
    ids=lambda value: value.code if isinstance(value, Answer) else None,
)
async def test_provider_error_codes_map_to_retry_or_give_up(
    aliyun: AliyunStandIn,
    no_code_logged: None,
    answer: Answer,
    error: type[Exception],
    code: str,
) -> None:
    del no_code_logged
    aliyun.answer(answer)
    with pytest.raises(error) as raised:
        await sender_for(aliyun).send_code(phone=PHONE, code=CODE)
    assert raised.value.code == code  # type: ignore[attr-defined]
    assert CODE not in str(raised.value)
    assert not aliyun.sent


async def test_a_send_carries_its_out_id(aliyun: AliyunStandIn) -> None:
    await sender_for(aliyun).send_code(phone=PHONE, code=CODE, out_id="5f1e0c")
    assert [sms.out_id for sms in aliyun.sent] == ["5f1e0c"]


async def test_a_provider_that_does_not_answer_in_time_may_have_sent_it(
    aliyun: AliyunStandIn,
) -> None:
    aliyun.answer(Answer(stall_seconds=2))
    with pytest.raises(SmsUnanswered):
        await sender_for(aliyun, SMS_TIMEOUT_SECONDS=0.5).send_code(phone=PHONE, code=CODE)
    assert len(aliyun.requests) == 1  # it did reach the provider


async def test_a_provider_that_refuses_connections_is_retryable(aliyun: AliyunStandIn) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    aliyun.url = f"http://127.0.0.1:{port}"
    with pytest.raises(SmsRetryable) as raised:
        await sender_for(aliyun, SMS_TIMEOUT_SECONDS=2).send_code(phone=PHONE, code=CODE)
    # Never sent: retried as often as the job's policy allows, unlike an unanswered send.
    assert not isinstance(raised.value, SmsUnanswered)


async def test_the_log_backend_writes_the_code_and_none_sends_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="app.notify.sms")
    await LogSmsSender().send_code(phone=PHONE, code=CODE)
    assert CODE in caplog.text
    assert PHONE not in caplog.text  # the number is masked, even in development
    assert PHONE[-2:] in caplog.text
    with pytest.raises(SmsDisabled):
        await NoSmsSender().send_code(phone=PHONE, code=CODE)


def test_backends_by_environment() -> None:
    assert create_sms_sender(Settings(APP_ENV="development")).name == "log"
    assert create_sms_sender(Settings(APP_ENV="test")).name == "log"
    production = Settings(
        APP_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(32),
        REDIS_URL="redis://127.0.0.1:6379/0",
        MAIL_BACKEND="none",
    )
    assert create_sms_sender(production).name == "none"


def test_the_alibaba_sdk_is_imported_only_for_its_backend() -> None:
    """A web or worker process without SMS_BACKEND=aliyun never loads the SDK (hundreds of
    modules, megabytes of memory per process)."""
    code = (
        "import sys; import asgi; from app.notify.sms import create_sms_sender; "
        "from settings import Settings; create_sms_sender(Settings(SMS_BACKEND='none')); "
        "print(sorted(m for m in sys.modules if m.startswith(('alibabacloud', 'darabonba'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={**os.environ, "APP_ENV": "test", "SECRET_KEY": TEST_SECRET_KEY},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
