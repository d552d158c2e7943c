"""Mail jobs on real Celery workers: a refusing SMTP server is retried with backoff, a
server that never takes the mail is given up on and logged, and no token is logged."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from app.jobs.runner import job_name, outcome_counts
from app.platform.store import create_store
from app.users.tasks import send_reset_password_mail, send_verify_mail
from settings import Settings

# The broker, backend and settings fixtures of the export job tests: PostgreSQL, each broker.
from tests.backend.test_jobs import (  # noqa: F401  # pylint: disable=unused-import
    StartProcess,
    backend,
    broker,
    settings_overrides,
    worker_settings,
)
from tests.conftest import PASSWORD, register_and_login, unique_email
from tests.fixtures.servers import free_port
from tests.fixtures.workers import QUEUE, worker_args

pytestmark = pytest.mark.slow

# The mailed token stands on a line of its own after the route that takes it.
_TOKEN_IN_LINK = re.compile(r'as \{"token": "…"\}:\s+(\S+)')


class RefusingSink:
    """An SMTP server that answers 451 (try later) to the first `refusals` mails."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.refused = 0
        self.messages: list[EmailMessage] = []

    async def handle_DATA(  # pylint: disable=invalid-name  # aiosmtpd's hook name
        self, _server: Any, _session: Any, envelope: Any
    ) -> str:
        if self.refused < self.refusals:
            self.refused += 1
            return "451 4.3.0 Try again later"
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"


def smtp_server(sink: RefusingSink) -> Iterator[int]:
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def mail_worker_settings(settings: Settings, port: int, **extra: Any) -> dict[str, Any]:
    return worker_settings(
        settings,
        MAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
        SMTP_STARTTLS="false",
        JOB_RETRY_BACKOFF_SECONDS=0.3,
        # Celery logs each message's arguments at DEBUG: the most it ever writes.
        LOG_LEVEL="DEBUG",
        **extra,
    )


async def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


async def outcomes(settings: Settings) -> dict[tuple[str, str], int]:
    """Job outcomes as the workers counted them in the shared Redis."""
    store = create_store(settings.REDIS_URL, prefix=settings.REDIS_KEY_PREFIX)
    try:
        return await outcome_counts(store)
    finally:
        await store.close()


VERIFY = job_name(send_verify_mail)
RESET = job_name(send_reset_password_mail)


def token_of(message: EmailMessage) -> str:
    body = message.get_content()
    match = _TOKEN_IN_LINK.search(body)
    assert match, body
    return match.group(1)


async def test_a_refused_mail_arrives_by_a_retry_and_no_token_is_logged(
    client: httpx.AsyncClient, settings: Settings, start_process: StartProcess
) -> None:
    sink = RefusingSink(refusals=1)
    for port in smtp_server(sink):
        worker = start_process(
            "mailer", worker_args("mailer", QUEUE), mail_worker_settings(settings, port)
        )
        worker.wait_for("ready.")
        email = unique_email("mail")
        await register_and_login(client, email)  # queues the verify mail
        response = await client.post("/api/v1/auth/forgot-password", json={"email": email})
        assert response.status_code == 202
        await wait_for(lambda: len(sink.messages) == 2, 30, f"2 mails: {worker.text()[-3000:]}")

    assert sink.refused == 1
    counted = await outcomes(settings)
    assert counted.get((VERIFY, "succeeded")) == 1
    assert counted.get((RESET, "succeeded")) == 1
    assert counted.get((VERIFY, "retried"), 0) + counted.get((RESET, "retried"), 0) == 1
    assert not [key for key in counted if key[1] == "failed"]
    subjects = sorted(str(m["Subject"]) for m in sink.messages)
    assert subjects == ["Confirm your email address for Study Log", "Reset your Study Log password"]
    log = worker.text()
    assert "try 1 failed (SMTPDataError" in log
    # The worker made the tokens itself, and they work.
    tokens = {str(m["Subject"]): token_of(m) for m in sink.messages}
    reset = await client.post(
        "/api/v1/auth/reset-password",
        json={"token": tokens["Reset your Study Log password"], "password": PASSWORD + "!"},
    )
    assert reset.status_code == 200, reset.text
    verify = await client.post(
        "/api/v1/auth/verify", json={"token": tokens["Confirm your email address for Study Log"]}
    )
    assert verify.status_code == 200, verify.text
    # The log has each job and its arguments, but never a token.
    assert "send_reset_password_mail" in log
    assert "user_id" in log
    for token in tokens.values():
        assert token not in log
        assert token.split(".")[2] not in log  # not even the signature


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
async def test_a_mail_never_taken_is_given_up_after_the_retries_and_logged(
    client: httpx.AsyncClient, settings: Settings, start_process: StartProcess
) -> None:
    sink = RefusingSink(refusals=1_000)
    for port in smtp_server(sink):
        worker = start_process(
            "mailer",
            worker_args("mailer", QUEUE),
            mail_worker_settings(settings, port, JOB_RETRY_MAX=2),
        )
        worker.wait_for("ready.")
        await register_and_login(client, unique_email("never"))
        worker.wait_for("failed after 3 tries: SMTPDataError", seconds=30)
        await asyncio.sleep(1)  # nothing more is tried
    assert sink.refused == 3
    assert not sink.messages
    counted = await outcomes(settings)
    assert (counted.get((VERIFY, "retried")), counted.get((VERIFY, "failed"))) == (2, 1)
    assert counted.get((VERIFY, "succeeded")) is None
