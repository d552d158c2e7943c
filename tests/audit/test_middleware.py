"""Every request is recorded with the right fields, and nothing secret is (API.md, Audit trail)."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from app.audit.models import (
    PATH_MAX_LENGTH,
    QUERY_MAX_LENGTH,
    USER_AGENT_MAX_LENGTH,
    AuditLog,
)
from app.audit.recorder import redact_query
from app.auth.dependencies import authenticate
from app.auth.models import User
from tests.audit.conftest import AuditRows
from tests.conftest import PASSWORD, register_and_login, unique_email


def request_id() -> str:
    return f"audit-{uuid.uuid4().hex}"


async def one_row(audit_rows: AuditRows, rid: str) -> AuditLog:
    rows = await audit_rows(request_id=rid)
    assert len(rows) == 1, f"expected one entry for {rid}, got {len(rows)}"
    return rows[0]


async def test_answered_request_is_recorded_with_every_field(
    client: httpx.AsyncClient, audit_rows: AuditRows
) -> None:
    rid = request_id()
    before = datetime.now(UTC)
    response = await client.get(
        "/api/v1/users/count?page=2&q=hello",
        headers={"X-Request-ID": rid, "User-Agent": "audit-test/1.0"},
    )
    after = datetime.now(UTC)
    # The count declares no parameters: refused (422), and recorded like any answer.
    assert response.status_code == 422

    row = await one_row(audit_rows, rid)
    assert row.id > 0
    assert before <= row.created_at <= after
    assert row.created_at.utcoffset() is not None
    assert row.method == "GET"
    assert row.path == "/api/v1/users/count"
    assert row.route == "/api/v1/users/count"
    assert row.query == "page=2&q=hello"
    assert row.status_code == 422
    assert 0 <= row.duration_ms <= (after - before).total_seconds() * 1000
    assert row.client_ip == "127.0.0.1"
    assert row.user_agent == "audit-test/1.0"
    assert row.user_id is None
    assert row.response_bytes == len(response.content)


@pytest.mark.parametrize(
    ("method", "url", "status", "route"),
    [
        ("GET", "/api/v1/users/me", 401, "/api/v1/users/me"),
        ("GET", "/no/such/page", 404, None),
        ("GET", "/api/v1/audit-logs/1", 401, "/api/v1/audit-logs/{audit_log_id}"),
        ("PUT", "/api/v1/auth/register", 405, "/api/v1/auth/register"),
        ("POST", "/api/v1/auth/register", 422, "/api/v1/auth/register"),
    ],
)
async def test_every_kind_of_answer_is_recorded_with_its_status_and_route(
    client: httpx.AsyncClient,
    audit_rows: AuditRows,
    method: str,
    url: str,
    status: int,
    route: str | None,
) -> None:
    rid = request_id()
    response = await client.request(
        method, url, headers={"X-Request-ID": rid}, json={"email": "not-an-email"}
    )
    assert response.status_code == status

    row = await one_row(audit_rows, rid)
    assert row.status_code == status
    assert row.route == route
    assert row.method == method
    assert row.path == url
    assert row.response_bytes == len(response.content)


async def test_server_error_is_recorded_as_500(
    app: FastAPI, client: httpx.AsyncClient, audit_rows: AuditRows
) -> None:
    def broken_authentication() -> None:
        raise RuntimeError("authentication is broken")

    app.dependency_overrides[authenticate] = broken_authentication
    rid = request_id()
    response = await client.get("/api/v1/users/me", headers={"X-Request-ID": rid})
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}

    row = await one_row(audit_rows, rid)
    assert row.status_code == 500
    assert row.route == "/api/v1/users/me"
    assert row.response_bytes == len(response.content)


async def test_query_secrets_are_replaced_by_stars(
    client: httpx.AsyncClient, audit_rows: AuditRows
) -> None:
    rid = request_id()
    query = (
        "token=t0k3n&Password=hunter22&api_key=k3y&X-Amz-Signature=s1gn&code=c0de"
        "&refresh_token=r3fr3sh&page=2&q=hello&next=eyJhbGciOiJI.eyJzdWIiOiIx.c2ln"
    )
    response = await client.get(f"/api/v1/users/count?{query}", headers={"X-Request-ID": rid})
    assert response.status_code == 422  # unknown parameters; recorded all the same

    row = await one_row(audit_rows, rid)
    assert row.query == (
        "token=***&Password=***&api_key=***&X-Amz-Signature=***&code=***"
        "&refresh_token=***&page=2&q=hello&next=***"
    )


@pytest.mark.parametrize(
    ("query", "stored"),
    [
        ("", ""),
        ("page=1&size=20", "page=1&size=20"),
        ("access_token=abc", "access_token=***"),
        ("ACCESS%5FTOKEN=abc", "ACCESS%5FTOKEN=***"),
        ("client_secret=a%26b&x=1", "client_secret=***&x=1"),
        ("user_password=&x=1", "user_password=&x=1"),
        ("session_id=s&sig=z", "session_id=***&sig=***"),
        ("eyJhbGciOiJI.eyJzdWIiOiIx.c2ln", "***"),
        ("flag&monkey=banana", "flag&monkey=***"),
        ("pass=hunter22&passphrase=open%20sesame", "pass=***&passphrase=***"),
        ("page=2;password=hunter22;q=a", "page=2;password=***;q=a"),
        ("a=1;token=t&b=2", "a=1;token=***&b=2"),
        # Short and run-together credential names: one rule, not a list of names.
        ("pw=hunter22&pin=1234&otp=123456&passcode=9", "pw=***&pin=***&otp=***&passcode=***"),
        (
            "PW=x&user_pw=x&newPin=1&mfa-otp=2&totp=3",
            "PW=***&user_pw=***&newPin=***&mfa-otp=***&totp=***",
        ),
        ("apikeys=k&mypassword=p&cvv=123", "apikeys=***&mypassword=***&cvv=***"),
        # The API's own parameters stay.
        (
            "page=2&size=20&subject=Math&order_by=-minutes&studied_to=2024-01-01&q=pwn&cursor=x",
            "page=2&size=20&subject=Math&order_by=-minutes&studied_to=2024-01-01&q=pwn&cursor=x",
        ),
        # Refresh tokens are opaque, not JWT-shaped; whatever the parameter is called.
        ("next=Xk3vR9mQ2wLp8sZt5yNb1cHd7fGj4aKe0uWo6iPq9rT", "next=***"),
        ("Xk3vR9mQ2wLp8sZt5yNb1cHd7fGj4aKe0uWo6iPq9rT", "***"),
        ("h=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "h=***"),
        # Ids, words and dates are no tokens.
        ("id=3f2b8c1e-7a4d-4e5f-9b6a-1c2d3e4f5a6b", "id=3f2b8c1e-7a4d-4e5f-9b6a-1c2d3e4f5a6b"),
        (
            "q=internationalization&studied_from=2024-01-01",
            "q=internationalization&studied_from=2024-01-01",
        ),
        (
            "q=internationalization-and-localization_guide&tag=StudyLog",
            "q=internationalization-and-localization_guide&tag=StudyLog",
        ),
    ],
)
def test_redact_query(query: str, stored: str) -> None:
    assert redact_query(query) == stored


async def test_no_password_or_token_is_stored(
    client: httpx.AsyncClient, audit_rows: AuditRows
) -> None:
    email = unique_email("secret")
    password = "audit-Pa55word-never-stored"
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password}
    )
    assert response.status_code == 201
    response = await client.post(
        "/api/v1/auth/jwt/login", data={"username": email, "password": password}
    )
    assert response.status_code == 200
    tokens = response.json()
    access, refresh = tokens["access_token"], tokens["refresh_token"]
    bearer = {"Authorization": f"Bearer {access}", "Cookie": "session=cookie-value-never-stored"}
    assert (await client.get("/api/v1/users/me", headers=bearer)).status_code == 200
    assert (await client.get(f"/api/v1/users/me?t={access}", headers=bearer)).status_code == 422
    await client.get(f"/api/v1/users/count?password={password}&refresh={refresh}")
    await client.post("/api/v1/auth/jwt/refresh", json={"refresh_token": refresh})

    rows = await audit_rows()
    assert len(rows) >= 6
    stored = "\n".join(
        repr(values) for values in await AuditLog.all().values_list(*AuditLog._meta.db_fields)
    )
    for secret in (password, access, refresh, "Bearer", "cookie-value-never-stored"):
        assert secret not in stored
    # The redacted query shows that the parameters were there.
    assert "password=***" in stored


async def test_user_id_is_recorded_for_authenticated_requests_and_null_otherwise(
    client: httpx.AsyncClient, audit_rows: AuditRows
) -> None:
    email = unique_email("who")
    headers = await register_and_login(client, email, PASSWORD)
    user = await User.get(email=email)
    signed_in, anonymous, bad_token = request_id(), request_id(), request_id()

    assert (
        await client.get("/api/v1/users/me", headers={**headers, "X-Request-ID": signed_in})
    ).status_code == 200
    assert (
        await client.get("/api/v1/users/me", headers={"X-Request-ID": anonymous})
    ).status_code == 401
    assert (
        await client.get(
            "/api/v1/users/me",
            headers={"Authorization": "Bearer not-a-token", "X-Request-ID": bad_token},
        )
    ).status_code == 401

    assert (await one_row(audit_rows, signed_in)).user_id == user.id
    assert (await one_row(audit_rows, anonymous)).user_id is None
    assert (await one_row(audit_rows, bad_token)).user_id is None


async def test_excluded_paths_are_not_recorded(
    client: httpx.AsyncClient, audit_rows: AuditRows
) -> None:
    urls = ("/api/health/check", "/api/health/ready", "/metrics", "/api/v1/users/count")
    for number, url in enumerate(urls):
        await client.get(url, headers={"X-Request-ID": f"excluded-{number}"})

    paths = [row.path for row in await audit_rows(request_id__startswith="excluded-")]
    assert paths == ["/api/v1/users/count"]


async def test_long_values_are_cut_to_their_columns(
    client: httpx.AsyncClient, audit_rows: AuditRows
) -> None:
    rid = request_id()
    long_path = "/nowhere/" + "p" * (PATH_MAX_LENGTH + 100)
    long_query = "q=" + "x" * (QUERY_MAX_LENGTH + 100)
    response = await client.get(
        f"{long_path}?{long_query}",
        headers={"X-Request-ID": rid, "User-Agent": "u" * (USER_AGENT_MAX_LENGTH + 100)},
    )
    assert response.status_code == 404

    row = await one_row(audit_rows, rid)
    assert row.path == long_path[:PATH_MAX_LENGTH]
    assert row.query == long_query[:QUERY_MAX_LENGTH]
    assert row.user_agent == "u" * USER_AGENT_MAX_LENGTH


async def test_nul_in_the_path_is_stored_without_it(
    client: httpx.AsyncClient, audit_rows: AuditRows
) -> None:
    rid = request_id()
    response = await client.get("/no%00where", headers={"X-Request-ID": rid})
    assert response.status_code == 404
    assert (await one_row(audit_rows, rid)).path == "/nowhere"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_forwarded_for_is_honoured_from_a_trusted_proxy(
    client: httpx.AsyncClient, audit_rows: AuditRows
) -> None:
    # The test client's peer is 127.0.0.1, the default trusted proxy.
    rid = request_id()
    await client.get(
        "/nowhere",
        headers={"X-Request-ID": rid, "X-Forwarded-For": "192.0.2.1, 198.51.100.7"},
    )
    assert (await one_row(audit_rows, rid)).client_ip == "198.51.100.7"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("settings_overrides", [{"TRUSTED_PROXIES": "10.0.0.1"}])
async def test_forwarded_for_is_ignored_from_an_untrusted_peer(
    client: httpx.AsyncClient, audit_rows: AuditRows
) -> None:
    rid = request_id()
    await client.get("/nowhere", headers={"X-Request-ID": rid, "X-Forwarded-For": "192.0.2.1"})
    assert (await one_row(audit_rows, rid)).client_ip == "127.0.0.1"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("settings_overrides", [{"AUDIT_ENABLED": False}])
async def test_nothing_is_recorded_when_the_audit_trail_is_off(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    assert app.state.audit_writer is None
    assert (await client.get("/nowhere")).status_code == 404
    assert (await client.get("/api/health/ready")).status_code == 200
    assert await AuditLog.all().count() == 0


async def test_tokens_in_the_path_and_user_agent_are_replaced_by_stars(
    client: httpx.AsyncClient, audit_rows: AuditRows
) -> None:
    refresh = "Xk3vR9mQ2wLp8sZt5yNb1cHd7fGj4aKe0uWo6iPq9rT"
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXBhcnQ"
    rid = request_id()
    agent = f"Mozilla/5.0 (X11; Linux x86_64) app/2.1 session={refresh} auth {jwt}"
    response = await client.get(
        f"/api/v1/reset/{refresh}/{jwt}", headers={"X-Request-ID": rid, "User-Agent": agent}
    )
    assert response.status_code == 404
    row = await one_row(audit_rows, rid)
    assert row.path == "/api/v1/reset/***/***"
    assert row.user_agent == "Mozilla/5.0 (X11; Linux x86_64) app/2.1 session=*** auth ***"


async def test_a_user_id_in_the_path_is_kept(
    client: httpx.AsyncClient, audit_rows: AuditRows
) -> None:
    rid = request_id()
    user_id = uuid.uuid4()
    await client.get(f"/api/v1/users/{user_id}", headers={"X-Request-ID": rid})
    assert (await one_row(audit_rows, rid)).path == f"/api/v1/users/{user_id}"


def digit_free_token() -> str:
    """A refresh token as `secrets.token_urlsafe(32)` makes them, one of the ~0.07% of them
    without a digit (and, like nearly all, with upper and lower case letters)."""
    while True:
        token = secrets.token_urlsafe(32)
        if not any(c.isdigit() for c in token) and token.lower() != token != token.upper():
            return token


async def test_tokens_without_a_digit_are_replaced_by_stars(
    client: httpx.AsyncClient, audit_rows: AuditRows
) -> None:
    in_path, in_agent, in_query = (digit_free_token() for _ in range(3))
    rid = request_id()
    response = await client.get(
        f"/api/v1/reset/{in_path}?{in_query}&page=2",
        headers={"X-Request-ID": rid, "User-Agent": f"curl/8.5.0 t={in_agent}"},
    )
    assert response.status_code == 404
    row = await one_row(audit_rows, rid)
    assert (row.path, row.query, row.user_agent) == (
        "/api/v1/reset/***",
        "***&page=2",
        "curl/8.5.0 t=***",
    )
    assert redact_query(f"next={in_query}") == "next=***"
