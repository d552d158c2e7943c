"""Mail senders: the log in development, SMTP (against a local sink) when configured."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
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


def test_the_mail_backend_selects_the_sender() -> None:
    prod_key = "Vq8-Zr3tLw0pXe7NbY2sKc5uHf9jMd4gAo1i"
    assert isinstance(create_mail_sender(Settings(SMTP_HOST="mail.example.com")), SmtpMailSender)
    dev = create_mail_sender(Settings(SMTP_HOST=""))
    assert isinstance(dev, LogMailSender)
    assert not dev.show_body  # tokens stay out of the log unless asked for
    assert create_mail_sender(Settings(MAIL_LOG_TOKENS=True)).show_body  # type: ignore[attr-defined]
    off = create_mail_sender(
        Settings(
            APP_ENV="production",
            SECRET_KEY=prod_key,
            REDIS_URL="redis://127.0.0.1:6379/0",
            MAIL_BACKEND="none",
        )
    )
    assert isinstance(off, NoMailSender)
    with pytest.raises(ValidationError, match="SMTP_HOST is empty"):
        Settings(APP_ENV="production", SECRET_KEY=prod_key, REDIS_URL="redis://127.0.0.1:6379/0")
    with pytest.raises(ValidationError, match="MAIL_BACKEND=smtp needs SMTP_HOST"):
        Settings(MAIL_BACKEND="smtp")


async def test_no_mail_backend_logs_the_mail_as_not_sent(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="app.notify.mail")
    create_mail_sender(Settings(MAIL_BACKEND="none"))
    assert "password reset cannot work" in caplog.text  # said at start-up
    await NoMailSender().send(MESSAGE)
    assert "not sent (MAIL_BACKEND=none)" in caplog.text
    assert "secret-token-123" not in caplog.text
