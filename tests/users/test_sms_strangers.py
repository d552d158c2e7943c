"""A stranger cannot lock the owner out, nor burn the owner's code (issue 24, item 4).

An address that logged in to the account behind a phone (the test client's own, after
`register_and_login`) asks for codes against the phone's own daily budget; every other
address ("a stranger", here one named in X-Forwarded-For: the test client's peer is a
trusted proxy) against a small budget of unsolicited codes, on the anonymous login path
whether or not an account has the number. Wrong guesses count per (code, address) and,
from strangers, toward a ceiling per code. PostgreSQL with Redis, as in production."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.platform.store import RedisStore
from app.users.codes import code_key
from tests.conftest import PASSWORD, register_and_login, unique_email
from tests.fixtures.aliyun import AliyunStandIn, aliyun_settings
from tests.users.test_sms import CODE_URL, LOGIN_URL, OTHER_PHONE, PHONE, user_with_phone, wrong

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


@pytest.fixture
def sms_limits() -> dict[str, Any]:
    return {}


@pytest.fixture
def settings_overrides(aliyun: AliyunStandIn, sms_limits: dict[str, Any]) -> dict[str, Any]:
    # The contract's defaults otherwise: 10 codes a day for the owner, 3 unsolicited, 5 wrong
    # guesses per address, 20 from strangers per code.
    return aliyun_settings(aliyun, SMS_RESEND_SECONDS=0, **sms_limits)


def stranger(n: int = 1) -> dict[str, str]:
    """An address that never logged in to the account."""
    return {"X-Forwarded-For": f"203.0.113.{n}"}


async def ask(
    client: httpx.AsyncClient, phone: str = PHONE, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(CODE_URL, json={"phone": phone, "purpose": "login"}, headers=headers)


async def guess(
    client: httpx.AsyncClient, code: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(LOGIN_URL, json={"phone": PHONE, "code": code}, headers=headers)


async def test_strangers_get_a_few_codes_a_day_and_the_owner_its_own_budget(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    await user_with_phone(client, aliyun)  # its bind code was the first unsolicited one
    answers = [await ask(client, headers=stranger(n)) for n in (1, 2, 3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 86_401
    assert len(aliyun.codes_to(PHONE)) == 3
    # The owner's address is not held back: the owner's ten a day are whole.
    owner = [await ask(client) for _ in range(11)]
    assert [a.status_code for a in owner] == [202] * 10 + [429]
    assert len(aliyun.codes_to(PHONE)) == 13
    assert (await guess(client, aliyun.last_code(PHONE))).status_code == 200


async def test_the_unsolicited_cap_holds_for_a_number_without_an_account(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    """The anonymous path answers a stranger alike whether or not an account has the
    number (a decoy is counted like a sent code)."""
    await user_with_phone(client, aliyun)
    with_account = [await ask(client, PHONE, stranger(n)) for n in range(1, 5)]
    without = [await ask(client, OTHER_PHONE, stranger(n)) for n in range(1, 5)]
    assert [a.status_code for a in with_account] == [202, 202, 429, 429]  # after the bind code
    assert [a.status_code for a in without] == [202, 202, 202, 429]
    assert not aliyun.codes_to(OTHER_PHONE)


@pytest.mark.parametrize("sms_limits", [{"SMS_UNSOLICITED_PER_PHONE_PER_DAY": 1}])
async def test_the_unsolicited_cap_is_a_setting_and_counts_bind_codes_of_other_accounts(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    binder = await register_and_login(client, unique_email("binder"))
    asked = await client.post(
        CODE_URL, json={"phone": OTHER_PHONE, "purpose": "bind"}, headers=binder
    )
    assert asked.status_code == 202
    assert len(aliyun.codes_to(OTHER_PHONE)) == 1
    assert (await ask(client, OTHER_PHONE, stranger())).status_code == 429


async def test_an_sms_login_makes_the_address_known(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    await user_with_phone(client, aliyun)
    travelling = stranger(77)  # the owner on a network it never logged in from
    assert (await ask(client, headers=travelling)).status_code == 202
    assert (await guess(client, aliyun.last_code(PHONE), travelling)).status_code == 200
    # The unsolicited budget is spent (the bind code and this one, then a stranger's) ...
    assert (await ask(client, headers=stranger(1))).status_code == 202
    assert (await ask(client, headers=stranger(2))).status_code == 429
    # ... but this address logged in: it asks against the owner's budget now.
    assert (await ask(client, headers=travelling)).status_code == 202


async def test_a_strangers_request_does_not_replace_the_owners_code(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    await user_with_phone(client, aliyun)
    assert (await ask(client)).status_code == 202
    owners_code = aliyun.last_code(PHONE)
    assert (await ask(client, headers=stranger())).status_code == 202
    assert (await guess(client, owners_code)).status_code == 200


async def test_wrong_guesses_from_one_address_do_not_spend_the_code_for_others(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    await user_with_phone(client, aliyun)
    await ask(client)
    code = aliyun.last_code(PHONE)
    for _ in range(5):
        assert (await guess(client, wrong(code), stranger())).status_code == 400
    # That address's tries are over: the right value fails for it too ...
    dead = await guess(client, code, stranger())
    assert (dead.status_code, dead.json()) == (400, {"detail": "LOGIN_BAD_CODE"})
    # ... an IPv6 one counted by its /64 ...
    for n in range(5):
        v6 = {"X-Forwarded-For": f"2001:db8:5:6::{n + 1:x}"}
        assert (await guess(client, wrong(code), v6)).status_code == 400
    v6_dead = await guess(client, code, {"X-Forwarded-For": "2001:db8:5:6:ffff::1"})
    assert v6_dead.status_code == 400
    # ... and the owner's is untouched.
    assert (await guess(client, code)).status_code == 200


async def test_past_the_ceiling_the_code_is_dead_for_strangers_but_not_the_owner(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    await user_with_phone(client, aliyun)
    await ask(client)
    code = aliyun.last_code(PHONE)
    for n in range(4):  # 4 addresses x 5 wrong guesses: the ceiling of 20
        for _ in range(5):
            assert (await guess(client, wrong(code), stranger(n + 10))).status_code == 400
    fresh = await guess(client, code, stranger(99))  # the right value, from a fresh address
    assert (fresh.status_code, fresh.json()) == (400, {"detail": "LOGIN_BAD_CODE"})
    assert (await guess(client, code)).status_code == 200  # the owner's address


@pytest.mark.parametrize("sms_limits", [{"SMS_CODE_GUESS_CEILING": 3, "SMS_MAX_ATTEMPTS": 1}])
async def test_the_limits_are_settings_and_hold_for_bind_codes(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    headers = await register_and_login(client, unique_email("binder"))

    async def new_code() -> str:
        asked = await client.post(
            CODE_URL, json={"phone": PHONE, "purpose": "bind"}, headers=headers
        )
        assert asked.status_code == 202
        return aliyun.last_code(PHONE)

    async def bind(value: str, n: int) -> httpx.Response:
        body = {"phone": PHONE, "code": value, "current_password": PASSWORD}
        return await client.post(
            "/api/v1/users/me/phone", json=body, headers={**headers, **stranger(n)}
        )

    code = await new_code()
    assert (await bind(wrong(code), 1)).status_code == 400
    assert (await bind(code, 1)).status_code == 400  # that address's one try is spent
    assert (await bind(wrong(code), 2)).status_code == 400
    assert (await bind(code, 3)).status_code == 200  # 2 misses: alive for the others
    code = await new_code()
    for n in (4, 5, 6):  # the ceiling of 3
        assert (await bind(wrong(code), n)).status_code == 400
    closed = await bind(code, 7)
    assert (closed.status_code, closed.json()) == (400, {"detail": "PHONE_BAD_CODE"})


async def test_concurrent_guesses_from_many_addresses_never_pass_the_ceiling(
    app: FastAPI, client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    """Wrong guesses from 30 addresses and the right code from 3 more, all at once: the
    code logs in once at most, and at most 20 strangers' misses are ever counted on it."""
    await user_with_phone(client, aliyun)
    assert (await ask(client, headers=stranger(1))).status_code == 202
    code = aliyun.last_code(PHONE)
    wrongs = [guess(client, wrong(code), stranger(100 + n)) for n in range(30)]
    rights = [guess(client, code, stranger(200 + n)) for n in range(3)]
    answers = await asyncio.gather(*wrongs[:10], *rights, *wrongs[10:])
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) <= 1
    assert set(statuses) <= {200, 400}
    store = app.state.store
    assert isinstance(store, RedisStore)
    misses = await store.client.hget(store.prefix + code_key("login", PHONE), "m")
    assert int(misses or 0) <= 20
    if statuses.count(200) == 0:
        assert int(misses or 0) == 20
