"""Reset mail through real SMTP: the app with MAIL_BACKEND=smtp, against a local sink."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.conftest import unique_email
from tests.core.test_mail import Sink, free_port
from tests.users.conftest import login_tokens, register

SMTP_PORT = free_port()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "MAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": SMTP_PORT,
        "SMTP_STARTTLS": False,
        "SMTP_FROM": "studylog@example.com",
        "MAIL_LINK_BASE_URL": "https://studylog.example.com/",
    }


@pytest.fixture
def sink() -> Iterator[Sink]:
    received = Sink()
    controller = Controller(received, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    try:
        yield received
    finally:
        controller.stop()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_reset_password_mail_goes_out_over_smtp(
    client: httpx.AsyncClient, sink: Sink
) -> None:
    email = unique_email()
    await register(client, email)
    response = await client.post("/api/v1/auth/forgot-password", json={"email": email})
    assert response.status_code == 202
    reset_mails = [m for m in sink.messages if "reset" in m["Subject"].lower()]
    assert len(reset_mails) == 1
    assert reset_mails[0]["To"] == email
    assert reset_mails[0]["From"] == "studylog@example.com"
    body = reset_mails[0].get_content()
    match = re.search(r"https://studylog\.example\.com/reset-password\?token=(\S+)", body)
    assert match, body
    token = unquote_plus(match.group(1))
    assert token not in response.text
    reset = await client.post(
        "/api/v1/auth/reset-password", json={"token": token, "password": "the new password"}
    )
    assert reset.status_code == 200
    await login_tokens(client, email, "the new password")
