"""Helpers for the account tests: a mail outbox in place of the sender, token shortcuts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.http.state import get_mail_sender
from app.notify.mail import MailMessage
from tests.conftest import PASSWORD

# The mailed token stands on a line of its own after the route that takes it.
_TOKEN_IN_LINK = re.compile(r'as \{"token": "…"\}:\s+(\S+)')

USER_FIELDS = {
    "id",
    "email",
    "display_name",
    "phone",
    "is_active",
    "is_superuser",
    "is_verified",
    "created_at",
}


class Outbox:
    """A MailSender that keeps what it is given."""

    def __init__(self) -> None:
        self.messages: list[MailMessage] = []

    async def send(self, message: MailMessage) -> None:
        self.messages.append(message)

    def to(self, email: str) -> list[MailMessage]:
        return [m for m in self.messages if m.to == email.lower()]

    def token(self, email: str, subject_word: str) -> str:
        """The token of the newest mail to `email` whose subject has `subject_word`."""
        for message in reversed(self.to(email)):
            if subject_word.lower() in message.subject.lower():
                match = _TOKEN_IN_LINK.search(message.body)
                assert match, message.body
                return match.group(1)
        raise AssertionError(f"no {subject_word!r} mail to {email}: {self.messages}")


@pytest.fixture
def outbox(app: FastAPI) -> Iterator[Outbox]:
    box = Outbox()
    app.dependency_overrides[get_mail_sender] = lambda: box
    yield box
    app.dependency_overrides.pop(get_mail_sender, None)


async def register(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, **extra: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password, **extra}
    )


async def login_tokens(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, **kwargs: Any
) -> dict[str, str]:
    """The login answer: access_token, token_type and refresh_token."""
    response = await client.post(
        "/api/v1/auth/jwt/login", data={"username": email, "password": password}, **kwargs
    )
    assert response.status_code == 200, response.text
    return response.json()


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/api/v1/auth/jwt/refresh", json={"refresh_token": refresh_token})


async def me_status(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/api/v1/users/me", headers=headers)).status_code
