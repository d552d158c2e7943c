"""Phone numbers and SMS codes through the API, sent to the local Alibaba Cloud stand-in:
binding, logging in, the limits, the identical refusals, and codes kept out of every log,
audit entry and answer. Each runs on SQLite without Redis and on PostgreSQL and MySQL
with Redis; without a broker the sending job runs before the test client has its answer."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.audit.models import AuditLog
from app.auth.models import User
from app.users import phone as phone_service
from tests.conftest import PASSWORD, register_and_login, unique_email
from tests.fixtures.aliyun import (
    AliyunStandIn,
    aliyun_settings,
)
from tests.users.conftest import bearer, me_status, refresh

PHONE = "+8613800138000"
OTHER_PHONE = "+8613900139000"
CODE_URL = "/api/v1/auth/sms/code"
LOGIN_URL = "/api/v1/auth/sms/login"
PHONE_URL = "/api/v1/users/me/phone"


@pytest.fixture
def sms_limits() -> dict[str, Any]:
    """Tests override the SMS limits by overriding this fixture."""
    return {"SMS_RESEND_SECONDS": 0}


@pytest.fixture
def settings_overrides(aliyun: AliyunStandIn, sms_limits: dict[str, Any]) -> dict[str, Any]:
    return aliyun_settings(aliyun, **sms_limits)


async def request_code(
    client: httpx.AsyncClient,
    phone: str,
    purpose: str = "login",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(CODE_URL, json={"phone": phone, "purpose": purpose}, headers=headers)


async def sms_login(client: httpx.AsyncClient, phone: str, code: str) -> httpx.Response:
    return await client.post(LOGIN_URL, json={"phone": phone, "code": code})


async def bind(
    client: httpx.AsyncClient, aliyun: AliyunStandIn, headers: dict[str, str], phone: str
) -> httpx.Response:
    """Asks for a bind code and sends it back, as a user with the phone in hand would."""
    asked = await request_code(client, phone, "bind", headers)
    assert asked.status_code == 202, asked.text
    return await client.post(
        PHONE_URL,
        json={"phone": phone, "code": aliyun.last_code(phone), "current_password": PASSWORD},
        headers=headers,
    )


async def user_with_phone(
    client: httpx.AsyncClient, aliyun: AliyunStandIn, phone: str = PHONE
) -> dict[str, str]:
    headers = await register_and_login(client, unique_email("phone"))
    response = await bind(client, aliyun, headers, phone)
    assert response.status_code == 200, response.text
    return headers


def bind_body(phone: str, code: str, password: str = PASSWORD) -> dict[str, str]:
    return {"phone": phone, "code": code, "current_password": password}


async def unbind(
    client: httpx.AsyncClient, headers: dict[str, str], password: str | None = PASSWORD
) -> httpx.Response:
    body = {} if password is None else {"current_password": password}
    return await client.request("DELETE", PHONE_URL, json=body, headers=headers)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_bind_then_log_in_with_a_code_for_a_full_session(
    client: httpx.AsyncClient, aliyun: AliyunStandIn, superuser_headers: dict[str, str]
) -> None:
    headers = await register_and_login(client, unique_email("bind"))
    # Written the way people write it; stored and shown as E.164.
    asked = await request_code(client, "138 0013 8000", "bind", headers)
    assert asked.status_code == 202
    assert asked.json() == {"resend_after_seconds": 0}
    bound = await client.post(
        PHONE_URL,
        json={
            "phone": "+86 138-0013-8000",
            "code": aliyun.last_code(PHONE),
            "current_password": PASSWORD,
        },
        headers=headers,
    )
    assert bound.status_code == 200, bound.text
    assert bound.json()["phone"] == PHONE
    assert (await client.get("/api/v1/users/me", headers=headers)).json()["phone"] == PHONE

    assert (await request_code(client, PHONE)).status_code == 202
    login = await sms_login(client, PHONE, aliyun.last_code(PHONE))
    assert login.status_code == 200, login.text
    tokens = login.json()
    assert set(tokens) == {"access_token", "token_type", "refresh_token"}
    me = await client.get("/api/v1/users/me", headers=bearer(tokens))
    assert me.json()["id"] == bound.json()["id"]
    # The password login's session machinery: rotation, and revocation on deactivation.
    rotated = await refresh(client, tokens["refresh_token"])
    assert rotated.status_code == 200
    deactivated = await client.patch(
        f"/api/v1/users/{me.json()['id']}", json={"is_active": False}, headers=superuser_headers
    )
    assert deactivated.status_code == 200
    assert await me_status(client, bearer(rotated.json())) == 401
    assert (await refresh(client, rotated.json()["refresh_token"])).status_code == 401
    assert not aliyun.rejected
    assert len(aliyun.sent) == 2


async def test_logout_ends_an_sms_login(client: httpx.AsyncClient, aliyun: AliyunStandIn) -> None:
    await user_with_phone(client, aliyun)
    await request_code(client, PHONE)
    tokens = (await sms_login(client, PHONE, aliyun.last_code(PHONE))).json()
    out = await client.post("/api/v1/auth/jwt/logout", headers=bearer(tokens))
    assert out.status_code == 204
    assert await me_status(client, bearer(tokens)) == 401


async def test_a_code_for_an_unknown_phone_is_202_and_nothing_is_sent(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    await user_with_phone(client, aliyun)
    sent_before = len(aliyun.requests)
    known = await request_code(client, PHONE)
    unknown = await request_code(client, OTHER_PHONE)
    assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
    assert unknown.status_code == 202
    assert len(aliyun.requests) == sent_before + 1
    assert not aliyun.codes_to(OTHER_PHONE)


async def test_wrong_expired_used_unknown_and_inactive_are_refused_alike(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    await user_with_phone(client, aliyun)
    await request_code(client, PHONE)
    code = aliyun.last_code(PHONE)
    answers = [await sms_login(client, PHONE, wrong(code))]  # wrong
    assert (await sms_login(client, PHONE, code)).status_code == 200
    answers.append(await sms_login(client, PHONE, code))  # used
    answers.append(await sms_login(client, OTHER_PHONE, code))  # unknown phone
    await request_code(client, PHONE)
    code = aliyun.last_code(PHONE)
    await User.filter(phone=PHONE).update(is_active=False)
    answers.append(await sms_login(client, PHONE, code))  # inactive user, right code
    assert {(a.status_code, a.text) for a in answers} == {(400, '{"detail":"LOGIN_BAD_CODE"}')}


class TestExpiry:
    @pytest.fixture
    def sms_limits(self) -> dict[str, Any]:
        return {"SMS_RESEND_SECONDS": 0, "SMS_CODE_TTL_SECONDS": 1}

    async def test_an_expired_code_is_refused_like_a_wrong_one(
        self, client: httpx.AsyncClient, aliyun: AliyunStandIn
    ) -> None:
        await user_with_phone(client, aliyun)
        await request_code(client, PHONE)
        code = aliyun.last_code(PHONE)
        await asyncio.sleep(1.2)  # the code's lifetime is a clock, not an event
        expired = await sms_login(client, PHONE, code)
        assert (expired.status_code, expired.json()) == (400, {"detail": "LOGIN_BAD_CODE"})


class TestAttempts:
    @pytest.fixture
    def sms_limits(self) -> dict[str, Any]:
        return {"SMS_RESEND_SECONDS": 0, "SMS_MAX_ATTEMPTS": 3}

    async def test_wrong_codes_destroy_the_code_after_max_attempts(
        self, client: httpx.AsyncClient, aliyun: AliyunStandIn
    ) -> None:
        await user_with_phone(client, aliyun)
        await request_code(client, PHONE)
        code = aliyun.last_code(PHONE)
        for _ in range(2):
            assert (await sms_login(client, PHONE, wrong(code))).status_code == 400
        assert (await sms_login(client, PHONE, code)).status_code == 200  # 2 misses: alive
        await request_code(client, PHONE)
        code = aliyun.last_code(PHONE)
        for _ in range(3):
            assert (await sms_login(client, PHONE, wrong(code))).status_code == 400
        dead = await sms_login(client, PHONE, code)
        assert (dead.status_code, dead.json()) == (400, {"detail": "LOGIN_BAD_CODE"})
        await request_code(client, PHONE)  # only a new code helps
        assert (await sms_login(client, PHONE, aliyun.last_code(PHONE))).status_code == 200


class TestResendWait:
    @pytest.fixture
    def sms_limits(self) -> dict[str, Any]:
        return {"SMS_RESEND_SECONDS": 60}

    async def test_a_second_code_within_the_wait_is_429_with_retry_after(
        self, client: httpx.AsyncClient, aliyun: AliyunStandIn
    ) -> None:
        headers = await register_and_login(client, unique_email("wait"))
        first = await request_code(client, PHONE, "bind", headers)
        assert first.json() == {"resend_after_seconds": 60}
        # Per phone, whatever the purpose, and whether or not an account has it.
        for again in (
            await request_code(client, PHONE, "bind", headers),
            await request_code(client, PHONE, "login"),
        ):
            assert again.status_code == 429
            assert again.json() == {"detail": "TOO_MANY_REQUESTS"}
            assert 1 <= int(again.headers["Retry-After"]) <= 60
        assert (await request_code(client, OTHER_PHONE)).status_code == 202
        assert len(aliyun.requests) == 1


class TestDailyCap:
    @pytest.fixture
    def sms_limits(self) -> dict[str, Any]:
        return {"SMS_RESEND_SECONDS": 0, "SMS_DAILY_LIMIT_PER_PHONE": 2}

    async def test_more_codes_than_the_daily_cap_are_429_until_midnight(
        self, client: httpx.AsyncClient, aliyun: AliyunStandIn
    ) -> None:
        # The bind code was unsolicited (the number was nobody's): the account's own
        # budget, for this address that logged in to it, is whole.
        await user_with_phone(client, aliyun)
        assert (await request_code(client, PHONE)).status_code == 202
        assert (await request_code(client, PHONE)).status_code == 202
        capped = await request_code(client, PHONE)
        assert capped.status_code == 429
        assert 1 <= int(capped.headers["Retry-After"]) <= 86_401
        assert len(aliyun.requests) == 3
        assert (await request_code(client, OTHER_PHONE)).status_code == 202


class TestPerIpLimit:
    @pytest.fixture
    def sms_limits(self) -> dict[str, Any]:
        return {"SMS_RESEND_SECONDS": 0, "RATE_LIMIT_SMS_PER_IP": 2}

    async def test_code_requests_are_limited_per_client_ip(self, client: httpx.AsyncClient) -> None:
        def from_ip(ip: str) -> dict[str, str]:
            return {"X-Forwarded-For": ip}  # the test client's peer is a trusted proxy

        phones = ["+8613800138001", "+8613800138002", "+8613800138003"]
        answers = [
            await client.post(
                CODE_URL, json={"phone": p, "purpose": "login"}, headers=from_ip("203.0.113.9")
            )
            for p in phones
        ]
        assert [a.status_code for a in answers] == [202, 202, 429]
        assert "Retry-After" in answers[2].headers
        other_ip = await client.post(
            CODE_URL, json={"phone": phones[2], "purpose": "login"}, headers=from_ip("203.0.113.10")
        )
        assert other_ip.status_code == 202


async def test_a_code_is_good_only_for_its_purpose_and_account(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    first = await register_and_login(client, unique_email("first"))
    second = await register_and_login(client, unique_email("second"))
    await request_code(client, PHONE, "bind", first)
    bind_code = aliyun.last_code(PHONE)
    # Another account cannot use the first one's bind code, nor can it log anyone in.
    stolen = await client.post(PHONE_URL, json=bind_body(PHONE, bind_code), headers=second)
    assert (stolen.status_code, stolen.json()) == (400, {"detail": "PHONE_BAD_CODE"})
    await request_code(client, PHONE, "bind", first)
    bind_code = aliyun.last_code(PHONE)
    await client.post(PHONE_URL, json=bind_body(PHONE, bind_code), headers=first)
    assert (await sms_login(client, PHONE, bind_code)).status_code == 400


@pytest.mark.dialects  # a unique index and a race: on every database
async def test_a_phone_of_another_account_cannot_be_bound(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    await user_with_phone(client, aliyun)
    headers = await register_and_login(client, unique_email("late"))
    asked = await request_code(client, PHONE, "bind", headers)
    assert (asked.status_code, asked.json()) == (400, {"detail": "PHONE_ALREADY_USED"})
    # Taken between the code and its use: refused as well.
    await request_code(client, OTHER_PHONE, "bind", headers)
    code = aliyun.last_code(OTHER_PHONE)
    await User.filter(phone=PHONE).update(phone=OTHER_PHONE)
    raced = await client.post(PHONE_URL, json=bind_body(OTHER_PHONE, code), headers=headers)
    assert (raced.status_code, raced.json()) == (400, {"detail": "PHONE_ALREADY_USED"})
    assert await User.filter(phone=OTHER_PHONE).count() == 1


class TestProbing:
    """Whether a number belongs to an account is told only after the request is counted per
    phone, like a code request, and the login path does the same store work either way."""

    @pytest.fixture
    def sms_limits(self) -> dict[str, Any]:
        return {"SMS_RESEND_SECONDS": 60}

    async def test_asking_whether_a_phone_is_taken_is_counted_per_phone(
        self, client: httpx.AsyncClient, aliyun: AliyunStandIn
    ) -> None:
        owner = unique_email("owner")
        await register_and_login(client, owner)
        await User.filter(email=owner).update(phone=PHONE)
        prober = await register_and_login(client, unique_email("prober"))
        first = await request_code(client, PHONE, "bind", prober)
        assert (first.status_code, first.json()) == (400, {"detail": "PHONE_ALREADY_USED"})
        stranger = {"X-Forwarded-For": "203.0.113.50"}  # never logged in to the owner's account
        for again in (
            await request_code(client, PHONE, "bind", prober),
            await request_code(client, PHONE, "login", stranger),
        ):
            assert (again.status_code, again.json()) == (429, {"detail": "TOO_MANY_REQUESTS"})
        assert not aliyun.requests

    async def test_binding_without_the_code_does_not_tell_whether_the_phone_is_taken(
        self, client: httpx.AsyncClient, aliyun: AliyunStandIn
    ) -> None:
        owner = unique_email("owner")
        await register_and_login(client, owner)
        await User.filter(email=owner).update(phone=PHONE)
        prober = await register_and_login(client, unique_email("prober"))
        answers = [
            await client.post(PHONE_URL, json=bind_body(p, "123456"), headers=prober)
            for p in (PHONE, OTHER_PHONE)
        ]
        assert {(a.status_code, a.text) for a in answers} == {(400, '{"detail":"PHONE_BAD_CODE"}')}
        assert not aliyun.requests

    async def test_a_login_code_for_an_unknown_phone_is_stored_like_a_sent_one(
        self, app: FastAPI, client: httpx.AsyncClient, aliyun: AliyunStandIn
    ) -> None:
        owner = unique_email("owner")
        await register_and_login(client, owner)
        await User.filter(email=owner).update(phone=PHONE)
        store = app.state.store
        writes: list[list[str]] = []

        def counted(name: str) -> Any:
            method = getattr(store, name)

            async def call(key: str, *args: Any, **kwargs: Any) -> Any:
                writes[-1].append(name)
                return await method(key, *args, **kwargs)

            return call

        with pytest.MonkeyPatch.context() as patch:
            for name in ("hit", "set_one_time"):
                patch.setattr(store, name, counted(name))
            for phone in (PHONE, OTHER_PHONE):
                writes.append([])
                assert (await request_code(client, phone)).status_code == 202
        assert writes[0] == writes[1]
        assert "set_one_time" in writes[1]
        stored = await store.get_one_time(phone_service.code_key("login", OTHER_PHONE))
        assert stored is not None
        assert len(aliyun.requests) == 1
        assert not aliyun.codes_to(OTHER_PHONE)


async def test_unbinding_stops_sms_login(client: httpx.AsyncClient, aliyun: AliyunStandIn) -> None:
    headers = await user_with_phone(client, aliyun)
    await request_code(client, PHONE)
    code = aliyun.last_code(PHONE)
    unbound = await unbind(client, headers)
    assert unbound.status_code == 200
    assert unbound.json()["phone"] is None
    assert (await client.get("/api/v1/users/me", headers=headers)).json()["phone"] is None
    assert (await sms_login(client, PHONE, code)).status_code == 400
    sent = len(aliyun.requests)
    assert (await request_code(client, PHONE)).status_code == 202
    assert len(aliyun.requests) == sent
    # The number is free for another account.
    assert (
        await bind(client, aliyun, await register_and_login(client, unique_email()), PHONE)
    ).status_code == 200


@pytest.mark.dialects  # concurrent spends on each store and database
async def test_of_concurrent_right_guesses_exactly_one_logs_in(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    await user_with_phone(client, aliyun)
    await request_code(client, PHONE)
    code = aliyun.last_code(PHONE)
    answers = await asyncio.gather(*(sms_login(client, PHONE, code) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [200] + [400] * 5


async def test_provider_errors_are_logged_and_the_client_still_gets_202(
    client: httpx.AsyncClient, aliyun: AliyunStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    await user_with_phone(client, aliyun)
    caplog.set_level(logging.INFO)
    aliyun.answer("isv.MOBILE_NUMBER_ILLEGAL", "isv.BUSINESS_LIMIT_CONTROL")
    assert (await request_code(client, PHONE)).status_code == 202
    assert "refused, not retried: isv.MOBILE_NUMBER_ILLEGAL" in caplog.text
    assert (await request_code(client, PHONE)).status_code == 202
    # Without a broker there is no later try: the job's failure is logged.
    assert "SmsRetryable: isv.BUSINESS_LIMIT_CONTROL" in caplog.text
    codes = [r.code for r in aliyun.requests[-2:]]
    assert all(code not in caplog.text for code in codes)


async def test_a_code_is_in_no_log_audit_entry_or_answer(
    client: httpx.AsyncClient,
    aliyun: AliyunStandIn,
    caplog: pytest.LogCaptureFixture,
    app: Any,
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = await register_and_login(client, unique_email("quiet"))
    answers = [await request_code(client, PHONE, "bind", headers)]
    bind_code = aliyun.last_code(PHONE)
    answers.append(await client.post(PHONE_URL, json=bind_body(PHONE, bind_code), headers=headers))
    answers.append(await request_code(client, PHONE))
    login_code = aliyun.last_code(PHONE)
    # A client that puts the code in the query string too: an unknown parameter (422),
    # whose secret-named value the answer does not echo.
    answers.append(
        await client.post(
            f"{LOGIN_URL}?code={login_code}", json={"phone": PHONE, "code": wrong(login_code)}
        )
    )
    answers.append(await sms_login(client, PHONE, login_code))
    assert [a.status_code for a in answers] == [202, 200, 202, 422, 200]
    assert answers[3].json()["detail"][0]["input"] == "***"
    await app.state.audit_writer.flush()
    entries = await AuditLog.filter(path__startswith="/api/v1/").values_list("path", "query")
    assert any(query == "code=***" for _, query in entries)
    # Every line the service logged (the test client's own httpx lines show its URLs).
    service_log = "\n".join(
        record.getMessage() for record in caplog.records if not record.name.startswith("httpx")
    )
    assert "accepted by Alibaba Cloud" in service_log
    for code in (bind_code, login_code):
        assert code not in service_log
        assert all(code not in a.text and code not in str(a.headers) for a in answers)
        assert all(code not in f"{path}?{query}" for path, query in entries)


class TestSmsDisabled:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"SMS_BACKEND": "none"}

    async def test_sms_routes_answer_503_and_unbinding_still_works(
        self, client: httpx.AsyncClient, user_headers: dict[str, str]
    ) -> None:
        for response in (
            await request_code(client, PHONE),
            await request_code(client, PHONE, "bind", user_headers),
            await sms_login(client, PHONE, "123456"),
            await client.post(
                PHONE_URL, json={"phone": PHONE, "code": "123456"}, headers=user_headers
            ),
        ):
            assert (response.status_code, response.json()) == (503, {"detail": "SMS_DISABLED"})
        assert (await unbind(client, user_headers)).status_code == 200


async def test_binding_needs_a_user(client: httpx.AsyncClient, aliyun: AliyunStandIn) -> None:
    for headers in (None, {"Authorization": "Bearer not-a-token"}):
        asked = await request_code(client, PHONE, "bind", headers)
        assert asked.status_code == 401
    assert (
        await client.post(PHONE_URL, json={"phone": PHONE, "code": "123456"})
    ).status_code == 401
    assert (await client.delete(PHONE_URL)).status_code == 401
    assert not aliyun.requests


async def post_escaped(
    client: httpx.AsyncClient, url: str, body: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    """JSON with \\u escapes, which can carry a lone surrogate (httpx's own encoding cannot)."""
    return await client.post(
        url,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


BAD_PHONES = [
    "",
    "not a phone",
    "+86 138 0013 800\x00",
    "+8613800138000\ud800",
    "\ud83d",
    "+1 000 000 0000",
    "12345",
    "+" + "1" * 40,
    "\u0663" * 11,  # Arabic-Indic digits
]

MALFORMED_LOGINS = [
    {"phone": PHONE, "code": "12345"},
    {"phone": PHONE, "code": "1234567"},
    {"phone": PHONE, "code": "12345a"},
    {"phone": PHONE, "code": "\u0661\u0662\u0663\u0664\u0665\u0666"},
    {"phone": PHONE, "code": 123456},
    {"phone": PHONE},
    {"phone": PHONE, "code": "12\x003456"},
    {"phone": PHONE, "code": "12345\udc00"},
    {"phone": ["+8613800138000"], "code": "123456"},
]


class TestBadInput:
    """Malformed input is refused before any store or database is touched: SQLite is enough."""

    @pytest.fixture
    def backend(self) -> str:
        return "sqlite"

    @pytest.mark.parametrize("phone", BAD_PHONES, ids=range(len(BAD_PHONES)))
    async def test_bad_phone_numbers_are_422_everywhere(
        self,
        client: httpx.AsyncClient,
        aliyun: AliyunStandIn,
        user_headers: dict[str, str],
        phone: str,
    ) -> None:
        for url, body, headers in (
            (CODE_URL, {"phone": phone, "purpose": "login"}, None),
            (CODE_URL, {"phone": phone, "purpose": "bind"}, user_headers),
            (LOGIN_URL, {"phone": phone, "code": "123456"}, None),
            (PHONE_URL, {"phone": phone, "code": "123456"}, user_headers),
        ):
            response = await post_escaped(client, url, body, headers)
            assert response.status_code == 422, response.text
            assert response.json()["detail"][0]["loc"] == ["body", "phone"]
        assert not aliyun.requests

    @pytest.mark.parametrize("body", MALFORMED_LOGINS, ids=range(len(MALFORMED_LOGINS)))
    async def test_malformed_codes_are_422(
        self, client: httpx.AsyncClient, body: dict[str, Any]
    ) -> None:
        response = await post_escaped(client, LOGIN_URL, body)
        assert response.status_code == 422, response.text

    async def test_an_unknown_purpose_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post(CODE_URL, json={"phone": PHONE, "purpose": "reset"})
        assert response.status_code == 422
