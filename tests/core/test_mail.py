"""Mail senders: the log in development, SMTP (against a local sink) when configured."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from pydantic import ValidationError

from app.notify.mail import (
    LogMailSender,
    MailMessage,
    NoMailSender,
    SmtpMailSender,
    create_mail_sender,
)
from settings import Settings

MESSAGE = MailMessage(to="ada@example.com", subject="Hello", body="token=secret-token-123\n")


class Sink:
    """An aiosmtpd handler that keeps every message it is sent."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    # aiosmtpd finds its hooks by these names.
    async def handle_DATA(  # pylint: disable=invalid-name
        self, _server: Any, _session: Any, envelope: Any
    ) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    """A local SMTP server for the test's length: (what it received, its port)."""
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


async def test_smtp_sender_delivers_to_the_server(smtp_sink: tuple[Sink, int]) -> None:
    sink, port = smtp_sink
    sender = SmtpMailSender(
        host="127.0.0.1", port=port, sender="studylog@example.com", starttls=False
    )
    await sender.send(MESSAGE)
    assert sink.envelopes == [("studylog@example.com", ["ada@example.com"])]
    received = sink.messages[0]
    assert received["Subject"] == "Hello"
    assert received["To"] == "ada@example.com"
    assert "token=secret-token-123" in received.get_content()


async def test_log_sender_shows_the_body_with_mail_log_tokens(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="app.notify.mail")
    await LogMailSender(show_body=True).send(MESSAGE)
    assert "secret-token-123" in caplog.text


async def test_log_sender_withholds_the_body_by_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="app.notify.mail")
    await LogMailSender(show_body=False).send(MESSAGE)
    assert "Hello" in caplog.text
    assert "secret-token-123" not in caplog.text


PROD_KEY = "Vq8-Zr3tLw0pXe7NbY2sKc5uHf9jMd4gAo1i"
PROD = {"APP_ENV": "production", "SECRET_KEY": PROD_KEY, "REDIS_URL": "redis://127.0.0.1:6379/0"}


@pytest.mark.parametrize("app_env", ["development", "test"])
def test_mail_goes_to_the_log_outside_production_even_with_an_smtp_host(app_env: str) -> None:
    """The contract's default: `log` in development and test, whatever SMTP_HOST says."""
    sender = create_mail_sender(Settings(APP_ENV=app_env, SMTP_HOST="mail.example.com"))
    assert isinstance(sender, LogMailSender)
    assert not sender.show_body  # tokens stay out of the log unless asked for
    assert create_mail_sender(Settings(MAIL_LOG_TOKENS=True)).show_body  # type: ignore[attr-defined]


def test_mail_goes_through_smtp_when_asked_or_in_production() -> None:
    chosen = Settings(MAIL_BACKEND="smtp", SMTP_HOST="mail.example.com")
    assert isinstance(create_mail_sender(chosen), SmtpMailSender)
    production = Settings(**PROD, SMTP_HOST="mail.example.com")
    assert production.mail_backend == "smtp"
    assert isinstance(create_mail_sender(production), SmtpMailSender)


def test_no_mail_backend_is_allowed_in_production() -> None:
    assert isinstance(create_mail_sender(Settings(**PROD, MAIL_BACKEND="none")), NoMailSender)


def test_smtp_without_a_host_refuses_to_start_in_any_environment() -> None:
    with pytest.raises(ValidationError, match="MAIL_BACKEND=smtp needs SMTP_HOST"):
        Settings(MAIL_BACKEND="smtp")
    with pytest.raises(ValidationError, match="MAIL_BACKEND=smtp needs SMTP_HOST"):
        Settings(**PROD)  # smtp is production's default


def test_production_refuses_the_log_backend() -> None:
    with pytest.raises(ValidationError, match="MAIL_BACKEND=log writes mails"):
        Settings(**PROD, MAIL_BACKEND="log", SMTP_HOST="mail.example.com")


async def test_no_mail_backend_logs_the_mail_as_not_sent(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="app.notify.mail")
    create_mail_sender(Settings(MAIL_BACKEND="none"))
    assert "password reset cannot work" in caplog.text  # said at start-up
    await NoMailSender().send(MESSAGE)
    assert "not sent (MAIL_BACKEND=none)" in caplog.text
    assert "secret-token-123" not in caplog.text


@pytest.mark.parametrize("settings_overrides", [{"MAIL_BACKEND": "none"}])
async def test_the_app_says_no_mail_is_sent_once_not_per_request(
    client: httpx.AsyncClient, app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    # The app's senders are built once, by its lifespan (already run by the fixture).
    assert isinstance(app.state.mail, NoMailSender)
    caplog.set_level(logging.DEBUG, logger="app.notify.mail")
    for _ in range(3):  # each of these takes the job queue, and with it the senders
        answer = await client.post("/api/v1/auth/forgot-password", json={"email": "a@example.com"})
        assert answer.status_code == 202, answer.text
    assert "password reset cannot work" not in caplog.text
