"""A phone number is a login method: binding or removing one takes the password, and the
account's email is told (issue 24, item 2). A stolen access token alone binds nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.auth.models import User
from tests.conftest import PASSWORD, register_and_login, unique_email
from tests.fixtures.aliyun import AliyunStandIn, aliyun_settings
from tests.users.conftest import Outbox

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)

PHONE = "+8613800138000"
CODE_URL = "/api/v1/auth/sms/code"
PHONE_URL = "/api/v1/users/me/phone"
INVALID_PASSWORD = (400, {"detail": "INVALID_PASSWORD"})


@pytest.fixture
def settings_overrides(aliyun: AliyunStandIn) -> dict[str, Any]:
    return aliyun_settings(aliyun, SMS_RESEND_SECONDS=0, RATE_LIMIT_PASSWORD_PER_USER=5)


async def _bind_code(client: httpx.AsyncClient, aliyun: AliyunStandIn, headers: Any) -> str:
    asked = await client.post(CODE_URL, json={"phone": PHONE, "purpose": "bind"}, headers=headers)
    assert asked.status_code == 202, asked.text
    return aliyun.last_code(PHONE)


async def _bind(
    client: httpx.AsyncClient, headers: dict[str, str], code: str, **password: str
) -> httpx.Response:
    return await client.post(
        PHONE_URL, json={"phone": PHONE, "code": code, **password}, headers=headers
    )


async def _unbind(client: httpx.AsyncClient, headers: dict[str, str], body: Any) -> httpx.Response:
    return await client.request("DELETE", PHONE_URL, json=body, headers=headers)


async def test_a_token_alone_cannot_bind_a_phone(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    email = unique_email("victim")
    headers = await register_and_login(client, email)
    code = await _bind_code(client, aliyun, headers)
    for password in ({}, {"current_password": ""}, {"current_password": "not the password"}):
        refused = await _bind(client, headers, code, **password)
        assert (refused.status_code, refused.json()) == INVALID_PASSWORD
    assert (await User.get(email=email)).phone is None
    # The refusals spent nothing: the owner, with the password, binds with the same code.
    bound = await _bind(client, headers, code, current_password=PASSWORD)
    assert bound.status_code == 200, bound.text
    assert bound.json()["phone"] == PHONE


async def test_a_token_alone_cannot_remove_a_phone(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    email = unique_email("victim")
    headers = await register_and_login(client, email)
    code = await _bind_code(client, aliyun, headers)
    assert (await _bind(client, headers, code, current_password=PASSWORD)).status_code == 200
    no_body = await client.delete(PHONE_URL, headers=headers)
    assert (no_body.status_code, no_body.json()) == INVALID_PASSWORD
    for body in ({}, {"current_password": "not the password"}):
        refused = await _unbind(client, headers, body)
        assert (refused.status_code, refused.json()) == INVALID_PASSWORD
    assert (await User.get(email=email)).phone == PHONE
    removed = await _unbind(client, headers, {"current_password": PASSWORD})
    assert removed.status_code == 200
    assert removed.json()["phone"] is None


async def test_password_checks_for_a_phone_are_counted_like_the_others(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    headers = await register_and_login(client, unique_email("guessed"))
    code = await _bind_code(client, aliyun, headers)
    statuses = [
        (await _bind(client, headers, code, current_password=f"guess {n}")).status_code
        for n in range(5)
    ]
    assert statuses == [400] * 5
    # RATE_LIMIT_PASSWORD_PER_USER (5 here): the right password waits out the window too.
    limited = await _bind(client, headers, code, current_password=PASSWORD)
    assert limited.status_code == 429
    assert "Retry-After" in limited.headers
    unbind = await _unbind(client, headers, {"current_password": PASSWORD})
    assert unbind.status_code == 429


async def test_the_email_is_told_when_a_phone_is_bound_or_removed(
    client: httpx.AsyncClient, aliyun: AliyunStandIn, outbox: Outbox
) -> None:
    email = unique_email("told")
    headers = await register_and_login(client, email)
    outbox.messages.clear()
    code = await _bind_code(client, aliyun, headers)
    assert outbox.to(email) == []  # asking for a code binds nothing yet
    assert (await _bind(client, headers, code, current_password=PASSWORD)).status_code == 200
    [bound] = outbox.to(email)
    assert "bound" in bound.subject
    assert "+86*********00" in bound.body
    assert PHONE not in bound.body
    assert (await _unbind(client, headers, {"current_password": PASSWORD})).status_code == 200
    [_, removed] = outbox.to(email)
    assert "removed" in removed.subject
    # Removing when there is no phone tells nothing.
    assert (await _unbind(client, headers, {"current_password": PASSWORD})).status_code == 200
    assert len(outbox.to(email)) == 2


async def test_a_bind_code_belongs_to_its_account_and_phone(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    owner = await register_and_login(client, unique_email("owner"))
    code = await _bind_code(client, aliyun, owner)
    # A stranger asking for a bind code to the same number gets one of its own...
    stranger = await register_and_login(client, unique_email("stranger"))
    strangers_code = await _bind_code(client, aliyun, stranger)
    # ...and the owner's waiting code still binds.
    bound = await _bind(client, owner, code, current_password=PASSWORD)
    assert bound.status_code == 200, bound.text
    # The stranger's code is good only for the stranger, and the number is taken now.
    taken = await _bind(client, stranger, strangers_code, current_password=PASSWORD)
    assert (taken.status_code, taken.json()) == (400, {"detail": "PHONE_ALREADY_USED"})
