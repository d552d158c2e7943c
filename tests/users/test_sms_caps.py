"""Paid SMS is capped (issue 24, item 3): codes only to mobile numbers of
SMS_ALLOWED_REGIONS, per-account limits on bind codes, a service-wide ceiling per hour
(503, a metric and a warning), and per-address limits that count an IPv6 client by its
/64. PostgreSQL with Redis, as in production."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import phonenumbers
import pytest
from prometheus_client import REGISTRY

from tests.conftest import register_and_login, unique_email
from tests.fixtures.aliyun import AliyunStandIn, aliyun_settings

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)

CODE_URL = "/api/v1/auth/sms/code"
CN_MOBILES = [f"+86138001380{n:02d}" for n in range(20)]
GB_MOBILE = "+447400123456"
T = phonenumbers.PhoneNumberType


def _example(region: str, kind: int) -> str:
    number = phonenumbers.example_number_for_type(region, kind)
    assert number is not None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Valid numbers, each of a kind no code may go to under the default SMS_ALLOWED_REGIONS=CN.
NOT_ALLOWED = {
    "GB premium rate": _example("GB", T.PREMIUM_RATE),
    "US premium rate": _example("US", T.PREMIUM_RATE),
    "US toll free": _example("US", T.TOLL_FREE),
    "CN toll free": _example("CN", T.TOLL_FREE),
    "CN premium rate": _example("CN", T.PREMIUM_RATE),
    "CN landline": _example("CN", T.FIXED_LINE),
    "GB mobile (region not allowed)": GB_MOBILE,
}


@pytest.fixture
def sms_limits() -> dict[str, Any]:
    return {}


@pytest.fixture
def settings_overrides(aliyun: AliyunStandIn, sms_limits: dict[str, Any]) -> dict[str, Any]:
    return aliyun_settings(
        aliyun, **{"SMS_RESEND_SECONDS": 0, "RATE_LIMIT_SMS_PER_IP": 0, **sms_limits}
    )


async def _code(
    client: httpx.AsyncClient, phone: str, purpose: str = "login", **headers: str
) -> httpx.Response:
    return await client.post(
        CODE_URL, json={"phone": phone, "purpose": purpose}, headers=headers or None
    )


@pytest.mark.parametrize("phone", NOT_ALLOWED.values(), ids=NOT_ALLOWED.keys())
async def test_codes_go_only_to_mobiles_of_the_allowed_regions(
    client: httpx.AsyncClient, aliyun: AliyunStandIn, phone: str
) -> None:
    headers = await register_and_login(client, unique_email("payer"))
    for purpose, auth in (("login", {}), ("bind", headers)):
        refused = await _code(client, phone, purpose, **auth)
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["detail"]
        assert (error["loc"], error["type"]) == (["body", "phone"], "phone_not_allowed")
    assert (await _code(client, CN_MOBILES[0])).status_code == 202
    assert not aliyun.requests  # no account has that mobile: a decoy, nothing sent


@pytest.mark.parametrize("sms_limits", [{"SMS_ALLOWED_REGIONS": "cn, GB"}])
async def test_allowed_regions_are_a_setting(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    headers = await register_and_login(client, unique_email("uk"))
    assert (await _code(client, GB_MOBILE, "bind", **headers)).status_code == 202
    assert aliyun.codes_to(GB_MOBILE)
    assert (await _code(client, NOT_ALLOWED["GB premium rate"])).status_code == 422


@pytest.mark.parametrize("sms_limits", [{"SMS_BIND_CODES_PER_ACCOUNT_HOUR": 3}])
async def test_bind_codes_are_limited_per_account_per_hour(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    spender = await register_and_login(client, unique_email("spender"))
    statuses = [(await _code(client, p, "bind", **spender)).status_code for p in CN_MOBILES[:5]]
    assert statuses == [202, 202, 202, 429, 429]
    assert len(aliyun.requests) == 3
    limited = await _code(client, CN_MOBILES[6], "bind", **spender)
    assert 3500 <= int(limited.headers["Retry-After"]) <= 3600
    # Another account, and the numbers themselves, are not held back by it.
    other = await register_and_login(client, unique_email("other"))
    assert (await _code(client, CN_MOBILES[4], "bind", **other)).status_code == 202


@pytest.mark.parametrize(
    "sms_limits",
    [{"SMS_BIND_CODES_PER_ACCOUNT_HOUR": 100, "SMS_BIND_CODES_PER_ACCOUNT_DAY": 4}],
)
async def test_bind_codes_are_limited_per_account_per_day(
    client: httpx.AsyncClient, aliyun: AliyunStandIn
) -> None:
    spender = await register_and_login(client, unique_email("spender"))
    statuses = [(await _code(client, p, "bind", **spender)).status_code for p in CN_MOBILES[:6]]
    assert statuses == [202] * 4 + [429] * 2
    assert len(aliyun.requests) == 4


@pytest.mark.parametrize("sms_limits", [{"SMS_MAX_PER_HOUR": 3}])
async def test_past_the_service_wide_ceiling_codes_answer_503_with_a_metric_and_a_warning(
    client: httpx.AsyncClient, aliyun: AliyunStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    metric = "studylog_sms_capacity_refusals_total"
    before = REGISTRY.get_sample_value(metric) or 0.0
    headers = await register_and_login(client, unique_email("binder"))
    answers = [await _code(client, CN_MOBILES[0], "bind", **headers)]
    # Login codes count whether or not an account has the number (decoys too): the
    # answer past the ceiling must not tell which numbers have accounts.
    answers += [await _code(client, phone) for phone in CN_MOBILES[1:3]]
    assert [a.status_code for a in answers] == [202, 202, 202]
    caplog.set_level(logging.WARNING)
    for refused in (
        await _code(client, CN_MOBILES[3]),
        await _code(client, CN_MOBILES[4], "bind", **headers),
    ):
        assert (refused.status_code, refused.json()) == (503, {"detail": "SMS_BUDGET_EXHAUSTED"})
        assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert (REGISTRY.get_sample_value(metric) or 0.0) - before == 2
    assert "SMS_MAX_PER_HOUR (3) reached" in caplog.text
    assert len(aliyun.requests) == 1


@pytest.mark.parametrize("sms_limits", [{"RATE_LIMIT_SMS_PER_IP": 2}])
async def test_per_address_limits_count_an_ipv6_client_by_its_64(
    client: httpx.AsyncClient,
) -> None:
    def via(ip: str) -> dict[str, str]:
        return {"X-Forwarded-For": ip}  # the test client's peer is a trusted proxy

    same_64 = ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:2:abcd::9"]
    statuses = []
    for phone, ip in zip(CN_MOBILES, same_64, strict=False):
        answer = await client.post(
            CODE_URL, json={"phone": phone, "purpose": "login"}, headers=via(ip)
        )
        statuses.append(answer.status_code)
    assert statuses == [202, 202, 429]
    next_64 = await client.post(
        CODE_URL, json={"phone": CN_MOBILES[5], "purpose": "login"}, headers=via("2001:db8:1:3::1")
    )
    assert next_64.status_code == 202
