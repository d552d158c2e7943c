"""No answer tells whether an account exists, even while the broker is away (issue 24,
item 6): forgot-password, request-verify-token and SMS login codes answer the same for
known and unknown accounts (a decoy job is published for an unknown one), and register
never reports failure for an account it created. PostgreSQL with Redis; the broker is a
port nobody listens on."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.auth.models import User
from tests.conftest import PASSWORD, unique_email
from tests.fixtures.aliyun import AliyunStandIn, aliyun_settings
from tests.fixtures.servers import free_port
from tests.users.conftest import login_tokens

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)

PHONE = "+8613800138000"
UNKNOWN_PHONE = "+8613900139000"


@pytest.fixture
def settings_overrides(aliyun: AliyunStandIn) -> dict[str, Any]:
    return aliyun_settings(
        aliyun,
        CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0",
        SMS_RESEND_SECONDS=0,
    )


async def _same(first: httpx.Response, second: httpx.Response) -> None:
    assert (first.status_code, first.json()) == (second.status_code, second.json())


async def test_register_answers_201_for_the_account_it_created(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email("outage")
    registered = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["email"] == email
    assert await User.exists(email=email)
    await login_tokens(client, email)  # the account works


async def test_mail_requests_answer_the_same_for_known_and_unknown_emails(
    client: httpx.AsyncClient,
) -> None:
    known = unique_email("known")
    await User.create(email=known, hashed_password="x", is_verified=False)
    unknown = unique_email("unknown")
    for path in ("/api/v1/auth/forgot-password", "/api/v1/auth/request-verify-token"):
        answers = [await client.post(path, json={"email": email}) for email in (known, unknown)]
        await _same(*answers)
        assert answers[0].status_code == 503  # the broker took neither


async def test_sms_login_codes_answer_the_same_for_known_and_unknown_phones(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    await User.create(email=unique_email("phone"), hashed_password="x", phone=PHONE)
    answers = [
        await client.post("/api/v1/auth/sms/code", json={"phone": phone, "purpose": "login"})
        for phone in (PHONE, UNKNOWN_PHONE)
    ]
    await _same(*answers)
    assert not aliyun.requests
