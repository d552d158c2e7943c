"""SMS jobs on real Celery workers, sending to the Alibaba Cloud stand-in: flow control from
the provider is retried with backoff and the code still arrives and logs in; a number the
provider calls illegal is given up after one try; no code in the worker's log, though it
logs every task's arguments."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.auth.models import User
from app.users import codes
from app.users import phone as phone_service
from settings import Settings
from tests.backend.test_job_mail import wait_for

# The broker and backend fixtures of the export job tests: PostgreSQL, each broker.
from tests.backend.test_jobs import (  # noqa: F401  # pylint: disable=unused-import
    StartProcess,
    backend,
    broker,
    worker_settings,
)
from tests.conftest import register_and_login, unique_email
from tests.fixtures.aliyun import AliyunStandIn, Answer, aliyun_settings
from tests.fixtures.workers import QUEUE, broker_url, worker_args

# Each test runs once per broker (the fixture is parametrized), through settings_overrides.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("broker")]

PHONE = "+8613800138000"


@pytest.fixture
def settings_overrides(
    request: pytest.FixtureRequest, aliyun: AliyunStandIn, tmp_path: Path
) -> dict[str, Any]:
    return {
        "CELERY_BROKER_URL": broker_url(request.getfixturevalue("broker")),
        "CELERY_QUEUE": QUEUE,
        "EXPORT_DIR": str(tmp_path / "exports"),
        **aliyun_settings(aliyun, SMS_RESEND_SECONDS=0),
    }


def start_sms_worker(
    start_process: StartProcess, settings: Settings, aliyun: AliyunStandIn, **extra: Any
) -> Any:
    worker = start_process(
        "texter",
        worker_args("texter", QUEUE, loglevel="DEBUG"),
        worker_settings(
            settings,
            **aliyun_settings(aliyun),
            JOB_RETRY_BACKOFF_SECONDS=0.3,
            # Celery logs each message's arguments at DEBUG: the most it ever writes.
            LOG_LEVEL="DEBUG",
            **extra,
        ),
    )
    worker.wait_for("ready.")
    return worker


async def user_with_phone(client: httpx.AsyncClient) -> None:
    email = unique_email("texted")
    await register_and_login(client, email)
    await User.filter(email=email).update(phone=PHONE)


async def test_flow_control_is_retried_and_the_code_logs_in_unlogged(
    client: httpx.AsyncClient,
    settings: Settings,
    start_process: StartProcess,
    aliyun: AliyunStandIn,
) -> None:
    worker = start_sms_worker(start_process, settings, aliyun)
    await user_with_phone(client)
    aliyun.answer("isv.BUSINESS_LIMIT_CONTROL")
    asked = await client.post("/api/v1/auth/sms/code", json={"phone": PHONE, "purpose": "login"})
    assert asked.status_code == 202
    await wait_for(lambda: aliyun.codes_to(PHONE), 30, f"an SMS: {worker.text()[-3000:]}")

    assert len(aliyun.requests) == 2
    assert not aliyun.rejected
    code = aliyun.last_code(PHONE)
    login = await client.post("/api/v1/auth/sms/login", json={"phone": PHONE, "code": code})
    assert login.status_code == 200, login.text
    log = worker.text()
    assert "try 1 failed (SmsRetryable: isv.BUSINESS_LIMIT_CONTROL" in log
    # The worker logged the task and its arguments, the sealed code among them; never the code.
    assert "send_sms_code" in log
    assert "sealed_code" in log
    assert code not in log


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
async def test_an_illegal_number_is_given_up_after_one_try(
    client: httpx.AsyncClient,
    settings: Settings,
    start_process: StartProcess,
    aliyun: AliyunStandIn,
) -> None:
    worker = start_sms_worker(start_process, settings, aliyun)
    await user_with_phone(client)
    aliyun.answer("isv.MOBILE_NUMBER_ILLEGAL", "isv.MOBILE_NUMBER_ILLEGAL")
    asked = await client.post("/api/v1/auth/sms/code", json={"phone": PHONE, "purpose": "login"})
    assert asked.status_code == 202
    worker.wait_for("refused, not retried: isv.MOBILE_NUMBER_ILLEGAL", seconds=30)
    await asyncio.sleep(1)  # past several backoffs: nothing more is tried
    assert len(aliyun.requests) == 1
    assert aliyun.requests[0].code not in worker.text()


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
async def test_a_send_that_timed_out_is_retried_once_with_the_same_out_id(
    client: httpx.AsyncClient,
    settings: Settings,
    start_process: StartProcess,
    aliyun: AliyunStandIn,
) -> None:
    # The provider takes each request (and sends it) but answers after the client gave up.
    worker = start_sms_worker(start_process, settings, aliyun, SMS_TIMEOUT_SECONDS=0.5)
    await user_with_phone(client)
    aliyun.answer(*[Answer(stall_seconds=1.5)] * 6)
    asked = await client.post("/api/v1/auth/sms/code", json={"phone": PHONE, "purpose": "login"})
    assert asked.status_code == 202
    worker.wait_for("unanswered twice, not retried", seconds=30)
    await asyncio.sleep(2)  # past several backoffs: nothing more is tried
    assert len(aliyun.requests) == 2, worker.text()[-3000:]
    out_ids = {sms.out_id for sms in aliyun.requests}
    assert len(out_ids) == 1
    assert len(next(iter(out_ids))) == 32


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
async def test_task_lines_at_info_show_the_phone_masked_and_no_sealed_code(
    client: httpx.AsyncClient,
    settings: Settings,
    start_process: StartProcess,
    aliyun: AliyunStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seals: list[str] = []

    def keep(**kwargs: Any) -> str:
        seals.append(codes.sealed(**kwargs))
        return seals[-1]

    monkeypatch.setattr(phone_service, "sealed", keep)
    # As production logs: JSON lines, with every extra Celery passes (the task's arguments).
    worker = start_process(
        "texter",
        worker_args("texter", QUEUE, loglevel="INFO"),
        worker_settings(settings, **aliyun_settings(aliyun), LOG_FORMAT="json", LOG_LEVEL="INFO"),
    )
    worker.wait_for("ready.")
    await user_with_phone(client)
    aliyun.answer("isv.BUSINESS_LIMIT_CONTROL")  # a retry: the republished message too
    asked = await client.post(
        "/api/v1/auth/sms/code",
        json={"phone": PHONE, "purpose": "login"},
        headers={"X-Request-ID": "queued-by-rid-42"},
    )
    assert asked.status_code == 202
    await wait_for(lambda: aliyun.codes_to(PHONE), 60, f"an SMS: {worker.text()[-3000:]}")
    worker.wait_for("succeeded")
    log = worker.text()
    # The job's lines name the request that queued it.
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    tagged = [e["message"] for e in entries if e.get("request_id") == "queued-by-rid-42"]
    assert any("send_sms_code" in message for message in tagged), log[-3000:]
    assert "send_sms_code" in log
    assert "+86*********00" in log
    assert "<sealed>" in log
    assert PHONE.removeprefix("+") not in log
    assert len(seals) == 1
    assert seals[0] not in log
    assert seals[0][:24] not in log
