"""Outgoing mail behind one small interface.

`LogMailSender` writes mail to the log (the default, for development: it shows the links);
`SmtpMailSender` sends through SMTP_HOST. smtplib blocks, so it runs in a worker thread.
Mail goes from a job (app/users/tasks.py), never while a request waits.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailMessage:
    to: str
    subject: str
    body: str


class MailSender(Protocol):
    async def send(self, message: MailMessage) -> None: ...


class LogMailSender:
    """Mail into the log (MAIL_BACKEND=log). Bodies, which hold tokens, only where
    `show_body` is set (MAIL_LOG_TOKENS)."""

    def __init__(self, *, show_body: bool) -> None:
        self.show_body = show_body

    async def send(self, message: MailMessage) -> None:
        if self.show_body:
            logger.info("mail to %s: %s\n%s", message.to, message.subject, message.body)
        else:
            logger.info(
                "mail to %s: %s (body withheld: it holds a token; MAIL_LOG_TOKENS=true shows it)",
                message.to,
                message.subject,
            )


class NoMailSender:
    """No mail at all (MAIL_BACKEND=none): each one is logged as not sent."""

    async def send(self, message: MailMessage) -> None:
        logger.warning("mail to %s not sent (MAIL_BACKEND=none): %s", message.to, message.subject)


class SmtpMailSender:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str = "",
        password: str = "",
        starttls: bool = True,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout_seconds = timeout_seconds

    async def send(self, message: MailMessage) -> None:
        await asyncio.to_thread(self._send_blocking, message)

    def _send_blocking(self, message: MailMessage) -> None:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email.set_content(message.body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(email)


def create_mail_sender(settings: Settings) -> MailSender:
    """The MAIL_BACKEND's sender: SMTP, the log (bodies only with MAIL_LOG_TOKENS), none."""
    if settings.mail_backend == "none":
        # Said once, at start-up (the web app and each worker build their sender then).
        logger.warning(
            "MAIL_BACKEND=none: no mail is sent; email verification and password reset cannot work"
        )
        return NoMailSender()
    if settings.mail_backend == "smtp":
        return SmtpMailSender(
            host=settings.SMTP_HOST,
            port=settings.SMTP_PORT,
            sender=settings.SMTP_FROM,
            username=settings.SMTP_USER,
            password=settings.SMTP_PASSWORD,
            starttls=settings.SMTP_STARTTLS,
            timeout_seconds=settings.SMTP_TIMEOUT_SECONDS,
        )
    return LogMailSender(show_body=settings.MAIL_LOG_TOKENS)
