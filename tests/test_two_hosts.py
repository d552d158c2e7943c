"""Two hosts: two server processes on different ports, one database, one Redis.

A logout on one is refused on the other at once, rate limits add up across both, and the
audit rows of both land in the one table.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tortoise import Tortoise

from app.audit.models import AuditLog
from settings import Settings
from tests.conftest import PASSWORD, TEST_SECRET_KEY, unique_email
from tests.fixtures import services
from tests.fixtures.servers import free_port, server_process, uvicorn_command, wait_until_up

LOGIN_LIMIT_PER_EMAIL = 4


@pytest.fixture(params=["postgres", "mysql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def hosts(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Base URLs of two server processes sharing the test database and Redis."""
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": settings.DATABASE_URL,
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": TEST_SECRET_KEY,
        "LOG_LEVEL": "WARNING",
        "AUDIT_FLUSH_INTERVAL_MS": "50",
        "RATE_LIMIT_LOGIN_PER_EMAIL_IP": str(LOGIN_LIMIT_PER_EMAIL),
        "RATE_LIMIT_LOGIN_PER_IP": "1000",
    }
    with contextlib.ExitStack() as stack:
        started = []
        for name in ("a", "b"):
            port = free_port()
            log = tmp_path / f"host-{name}.log"
            server = stack.enter_context(server_process(uvicorn_command(port), env, log))
            started.append((server, log, f"http://127.0.0.1:{port}"))
        for server, log, url in started:
            wait_until_up(url, server, log)
        yield started[0][2], started[1][2]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_logout_and_rate_limits_hold_across_hosts(hosts: tuple[str, str]) -> None:
    host_a, host_b = hosts
    email = unique_email()
    with httpx.Client(timeout=10) as client:
        registered = client.post(
            f"{host_a}/api/v1/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        tokens = client.post(
            f"{host_a}/api/v1/auth/jwt/login", data={"username": email, "password": PASSWORD}
        ).json()
        access = bearer(tokens["access_token"])
        # Host B admits the session (and caches it) before the logout on host A.
        assert client.get(f"{host_b}/api/v1/users/me", headers=access).status_code == 200
        assert client.post(f"{host_a}/api/v1/auth/jwt/logout", headers=access).status_code == 204
        assert client.get(f"{host_b}/api/v1/users/me", headers=access).status_code == 401
        refreshed = client.post(
            f"{host_b}/api/v1/auth/jwt/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 401

        # Logins for one (fresh) email, alternating hosts: the limit counts them all.
        target = unique_email()
        statuses = [
            client.post(
                f"{host}/api/v1/auth/jwt/login", data={"username": target, "password": "wrong-1"}
            ).status_code
            for host in [host_a, host_b] * LOGIN_LIMIT_PER_EMAIL
        ]
        assert statuses[:LOGIN_LIMIT_PER_EMAIL] == [400] * LOGIN_LIMIT_PER_EMAIL
        assert set(statuses[LOGIN_LIMIT_PER_EMAIL:]) == {429}


def test_audit_rows_of_both_hosts_land(hosts: tuple[str, str], settings: Settings) -> None:
    marker = uuid.uuid4().hex[:12]
    sent = []
    with httpx.Client(timeout=10) as client:
        for n in range(20):
            host = hosts[n % 2]
            request_id = f"{marker}-{'ab'[n % 2]}-{n}"
            client.get(f"{host}/api/v1/users/count", headers={"X-Request-ID": request_id})
            sent.append(request_id)

    async def stored() -> set[str]:
        services.forget_dialect_caches()
        await Tortoise.init(config=settings.tortoise_config())
        try:
            rows = await AuditLog.filter(request_id__startswith=marker).values_list(
                "request_id", flat=True
            )
            return {str(row) for row in rows}
        finally:
            await Tortoise.close_connections()

    deadline = time.monotonic() + 10
    found: set[str] = set()
    while time.monotonic() < deadline:
        found = asyncio.run(stored())
        if found == set(sent):
            break
        time.sleep(0.2)
    assert found == set(sent)
    assert any("-a-" in r for r in found)
    assert any("-b-" in r for r in found)
