"""Text no database can take (NUL, lone surrogates) and JSON's non-numbers (NaN, Infinity),
anywhere a client can put them: 422 naming the parameter, a body that any JSON parser can
read, and no traceback in the log. On every backend: PostgreSQL refuses 0x00 outright."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, register_and_login, unique_email

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects
RECORDS = "/api/v1/study-records"
RECORD = {"subject": "Maths", "title": "Limits", "minutes": 30, "studied_on": "2024-03-01"}

QUERY_CASES = [
    ("user", RECORDS, "q"),
    ("user", RECORDS, "subject"),
    ("user", f"{RECORDS}/cursor", "q"),
    ("user", f"{RECORDS}/stats", "studied_from"),
    ("user", f"{RECORDS}/export", "q"),
    ("admin", "/api/v1/audit-logs", "path_prefix"),
    ("admin", "/api/v1/audit-logs", "method"),
]


def strict_json(response: httpx.Response) -> Any:
    """The body as a strict parser reads it: UTF-8, no lone surrogates, no NaN."""

    def refuse(token: str) -> Any:
        raise ValueError(token)

    text = response.content.decode("utf-8")
    data = json.loads(text, parse_constant=refuse)
    json.dumps(data, ensure_ascii=False).encode("utf-8")  # a lone surrogate fails here
    return data


def assert_refused(response: httpx.Response, loc: list[str | int]) -> None:
    assert response.status_code == 422, response.text
    errors = strict_json(response)["detail"]
    assert [error["loc"] for error in errors] == [loc]
    echoed = json.dumps(errors)
    assert "\\u0000" not in echoed
    assert "\\ud800" not in echoed


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def assert_no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize("case", QUERY_CASES, ids=[f"{url}?{name}" for _, url, name in QUERY_CASES])
async def test_nul_in_a_query_parameter_is_422(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    superuser_headers: dict[str, str],
    no_tracebacks: pytest.LogCaptureFixture,
    case: tuple[str, str, str],
) -> None:
    who, url, name = case
    headers = superuser_headers if who == "admin" else user_headers
    response = await client.get(url, params={name: "a\x00b"}, headers=headers)
    assert_refused(response, ["query", name])
    assert_no_tracebacks(no_tracebacks)


@pytest.mark.parametrize("field", ["subject", "title", "notes"])
@pytest.mark.parametrize("bad", ["a\x00b", "\ud800", "x\udfffy"], ids=["nul", "high", "low"])
async def test_unstorable_text_in_a_record_is_422(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    no_tracebacks: pytest.LogCaptureFixture,
    field: str,
    bad: str,
) -> None:
    # json.dumps writes a lone surrogate as the \ud800 escape a hostile client would send.
    body = json.dumps({**RECORD, field: bad})
    headers = {**user_headers, "Content-Type": "application/json"}
    response = await client.post(RECORDS, content=body, headers=headers)
    assert_refused(response, ["body", field])
    assert (await client.get(RECORDS, headers=user_headers)).json()["total"] == 0
    assert_no_tracebacks(no_tracebacks)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-32-le"])
@pytest.mark.parametrize("bad", ["a\x00b", "\ud800", "fine"], ids=["nul", "surrogate", "plain"])
async def test_json_in_another_encoding_than_utf8_is_422(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    no_tracebacks: pytest.LogCaptureFixture,
    encoding: str,
    bad: str,
) -> None:
    """Python's JSON parser reads UTF-16 and UTF-32 too; there an escaped NUL or surrogate
    has NUL bytes inside it. Only UTF-8 JSON is taken, so nothing unstorable gets through."""
    body = json.dumps({**RECORD, "notes": bad}).encode(encoding)
    headers = {**user_headers, "Content-Type": "application/json"}
    for method, url in (("POST", RECORDS), ("POST", "/api/v1/auth/register")):
        response = await client.request(method, url, content=body, headers=headers)
        assert_refused(response, ["body"])
        assert strict_json(response)["detail"][0]["type"] == "json_invalid"
    assert (await client.get(RECORDS, headers=user_headers)).json()["total"] == 0
    assert_no_tracebacks(no_tracebacks)


async def test_nul_in_a_record_update_is_422(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    created = await client.post(RECORDS, json=RECORD, headers=user_headers)
    assert created.status_code == 201, created.text
    url = f"{RECORDS}/{created.json()['id']}"
    response = await client.patch(url, json={"notes": "one\x00two"}, headers=user_headers)
    assert_refused(response, ["body", "notes"])


@pytest.mark.parametrize("bad", ["a\x00b", "\ud800"], ids=["nul", "surrogate"])
async def test_unstorable_display_name_is_422(
    client: httpx.AsyncClient, no_tracebacks: pytest.LogCaptureFixture, bad: str
) -> None:
    body = json.dumps({"email": unique_email(), "password": PASSWORD, "display_name": bad})
    response = await client.post(
        "/api/v1/auth/register", content=body, headers={"Content-Type": "application/json"}
    )
    assert_refused(response, ["body", "display_name"])
    headers = await register_and_login(client, unique_email())
    response = await client.patch(
        "/api/v1/users/me",
        content=json.dumps({"display_name": bad}),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert_refused(response, ["body", "display_name"])
    assert_no_tracebacks(no_tracebacks)


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
@pytest.mark.parametrize("field", ["username", "password"])
async def test_nul_in_the_login_form_is_422(
    client: httpx.AsyncClient, no_tracebacks: pytest.LogCaptureFixture, field: str, encoding: str
) -> None:
    form = {"username": "someone@example.com", "password": PASSWORD, field: "a\x00@example.com"}
    if encoding == "multipart":
        parts = {name: (None, value) for name, value in form.items()}
        response = await client.post("/api/v1/auth/jwt/login", files=parts)
    else:
        response = await client.post("/api/v1/auth/jwt/login", data=form)
    assert_refused(response, ["body", field])
    assert_no_tracebacks(no_tracebacks)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize(
    ("url", "field"),
    [(RECORDS, "minutes"), ("/api/v1/auth/register", "email"), (RECORDS, "title")],
)
async def test_nan_and_infinity_in_json_are_422(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    no_tracebacks: pytest.LogCaptureFixture,
    url: str,
    field: str,
    token: str,
) -> None:
    body = {**RECORD, "email": unique_email(), "password": PASSWORD}
    text = json.dumps({**body, field: "__here__"}).replace('"__here__"', token)
    headers = {**user_headers, "Content-Type": "application/json"}
    response = await client.post(url, content=text, headers=headers)
    assert_refused(response, ["body", field])
    assert_no_tracebacks(no_tracebacks)


async def test_a_surrogate_deep_in_the_body_is_named_by_its_path(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    body = '{"format": "csv", "subject": ["ok", {"x": "\\ud800"}]}'
    response = await client.post(
        f"{RECORDS}/exports",
        content=body,
        headers={**user_headers, "Content-Type": "application/json"},
    )
    assert_refused(response, ["body", "subject", 1, "x"])  # positions are numbers, as FastAPI's


async def test_a_surrogate_pair_and_an_escaped_backslash_are_text(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    # A valid pair is one character (U+1F600); "\\\\u0000" is a backslash and "u0000".
    body = json.dumps({**RECORD, "title": "😀", "notes": "\\u0000 NaN Infinity"})
    response = await client.post(
        RECORDS, content=body, headers={**user_headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "😀"
    assert response.json()["notes"] == "\\u0000 NaN Infinity"
    # "%00" as text (sent as %2500) is no NUL either.
    listed = await client.get(RECORDS, params={"q": "%00"}, headers=user_headers)
    assert listed.status_code == 200, listed.text
