"""The create answered without FastAPI's request handler (app/http/direct.py) answers as
FastAPI's handler does: the same status and body for valid, invalid and odd requests (every
422 comes from FastAPI itself), the same bytes as FastAPI's serialization of the record,
the same OpenAPI operation. Each request is sent twice, once answered directly and once by
FastAPI's handler (any dependency override turns the direct answer off)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from app.http.direct import DirectRoute
from app.study import records
from app.study.dependencies import count_write
from tests.conftest import register_and_login, unique_email
from tests.study.conftest import URL

# The write differs by dialect (on PostgreSQL the row comes straight from the driver).
pytestmark = pytest.mark.dialects

_JSON = "application/json"
_VALID = b'{"subject": "Go", "title": "Channels", "minutes": 25, "studied_on": "2024-03-01"}'
# (body, content type) pairs; None: no content type header.
_CASES: list[tuple[bytes, str | None]] = [
    (_VALID, _JSON),
    (b'{"subject": "  Go ", "title": "t", "minutes": "25", "notes": "n"}', _JSON),
    (b'{"subject": "Go", "title": "t", "minutes": 25.0, "studied_on": "2024-03-01"}', _JSON),
    (b'{"subject": "Go", "title": "t", "minutes": 1, "minutes": 1440}', _JSON),  # the last
    (b'{"subject": "\\u00e9t\\u00e9 \\ud83d\\ude00", "title": "t", "minutes": 5}', _JSON),
    (b' {"subject": "Go", "title": "t", "minutes": 5}\n', _JSON),
    (_VALID, "application/json; charset=utf-8"),
    (_VALID, "application/vnd.studylog+json"),
    (_VALID, "text/plain"),
    (_VALID, None),
    (b"\xef\xbb\xbf" + _VALID, _JSON),  # a byte order mark
    (b"", _JSON),
    (b"{", _JSON),
    (_VALID + b" x", _JSON),
    (b"[]", _JSON),
    (b"null", _JSON),
    (b"{}", _JSON),
    (b'{"subject": "Go", "title": "t", "minutes": 25.5}', _JSON),
    (b'{"subject": "Go", "title": "t", "minutes": 0}', _JSON),
    (b'{"subject": "Go", "title": "t", "minutes": 1441}', _JSON),
    (b'{"subject": "Go", "title": "t", "minutes": 123456789012345678901234567890}', _JSON),
    (b'{"subject": "   ", "title": "t", "minutes": 5}', _JSON),
    (b'{"subject": 5, "title": "t", "minutes": 5, "notes": null}', _JSON),
    (b'{"subject": "Go", "title": "t", "minutes": 5, "studied_on": 1700000000}', _JSON),
    (b'{"subject": "Go", "title": "t", "minutes": 5, "studied_on": "2024-3-1"}', _JSON),
    (b'{"subject": "Go", "title": "t", "minutes": 5, "studied_on": "2024-03-01T01:00:00"}', _JSON),
    (b'{"subject": "Go", "title": "t", "minutes": 5, "owner_id": "x", "id": 1}', _JSON),
    (b'{"subject": "Go", "title": "t", "minutes": 5, "notes": "\\u0000"}', _JSON),
    (b'{"subject": "Go", "title": "t", "minutes": NaN}', _JSON),
    (b'{"subject": "Go", "title": "' + b"x" * 201 + b'", "minutes": 5}', _JSON),
]
_MOVING = ("id", "created_at", "updated_at")


def _comparable(response: httpx.Response) -> tuple[int, Any]:
    """Status and body, with what differs between two creates (id, times) left out."""
    try:
        body = response.json()
    except ValueError:
        return response.status_code, response.text
    if response.status_code == 201:
        body = {key: value for key, value in body.items() if key not in _MOVING}
    return response.status_code, body


async def _post(
    client: httpx.AsyncClient, body: bytes, content_type: str | None, headers: dict[str, str]
) -> httpx.Response:
    sent = dict(headers)
    if content_type is not None:
        sent["Content-Type"] = content_type
    return await client.post(URL, content=body, headers=sent)


def _spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the direct answer's write (`create_read`) and FastAPI's endpoint's (`create`)."""
    calls = {"create_read": 0, "create": 0}
    for name in calls:
        original = getattr(records, name)

        async def counted(
            *args: Any, _name: str = name, _original: Any = original, **kw: Any
        ) -> Any:
            calls[_name] += 1
            return await _original(*args, **kw)

        monkeypatch.setattr(records, name, counted)
    return calls


async def test_answers_as_fastapi_does(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = await register_and_login(client, unique_email("direct"))
    calls = _spy(monkeypatch)
    created = 0
    for body, content_type in _CASES:
        for auth in (headers, {}, {"Authorization": "Bearer not-a-token"}):
            direct = await _post(client, body, content_type, auth)
            app.dependency_overrides[count_write] = count_write  # FastAPI's handler answers
            try:
                handled = await _post(client, body, content_type, auth)
            finally:
                app.dependency_overrides.clear()
            case = (body[:60], content_type, bool(auth))
            assert _comparable(direct) == _comparable(handled), case
            assert direct.headers["content-type"] == handled.headers["content-type"], case
            created += direct.status_code == 201
    # The six valid bodies sent as exactly application/json were answered directly; the
    # three in other JSON types (charset, +json, a byte order mark) by FastAPI's handler,
    # which also answered every request's twin.
    assert created == 9
    assert calls == {"create_read": 6, "create": 3 + created}
    listed = await client.get(URL, params={"size": 100}, headers=headers)
    assert listed.json()["total"] == 2 * created


async def test_the_route_s_other_rules_still_hold(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    """An unknown query parameter is the API's 422 (the front route passes any query string
    on); another method on the path is the list (GET) or the API's 405 with every allowed
    method; the audit trail and metrics see the route's template."""
    sent = {**user_headers, "Content-Type": _JSON}
    refused = await client.post(URL, params={"sort": "x"}, content=_VALID, headers=sent)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["query", "sort"]
    assert (await client.get(URL, headers=user_headers)).status_code == 200
    not_allowed = await client.put(URL, content=_VALID, headers=sent)
    assert not_allowed.status_code == 405
    assert set(not_allowed.headers["allow"].split(", ")) == {"GET", "POST"}


async def test_the_answer_is_fastapi_s_serialization_of_the_record(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    body = b'{"subject": "Go", "title": "t\\u00e9 \\"q\\"", "minutes": 25, "notes": "a\\nb"}'
    created = await _post(client, body, _JSON, user_headers)
    assert created.status_code == 201, created.text
    record_id = orjson.loads(created.content)["id"]
    # GET answers the stored record through FastAPI's own response model handling.
    fetched = await client.get(f"{URL}/{record_id}", headers=user_headers)
    assert created.content == fetched.content


async def test_a_refused_write_is_not_written(
    client: httpx.AsyncClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _spy(monkeypatch)
    assert (await _post(client, _VALID, _JSON, {})).status_code == 401
    invalid = b'{"subject": "Go", "title": "t", "minutes": 0}'
    assert (await _post(client, invalid, _JSON, user_headers)).status_code == 422
    assert calls == {"create_read": 0, "create": 0}
    listed = await client.get(URL, headers=user_headers)
    assert listed.json()["total"] == 0


def test_the_route_publishes_what_fastapi_would() -> None:
    """DirectRoute changes only how a request is handled, never the operation."""

    async def endpoint(record_id: int) -> dict[str, int]:
        return {"id": record_id}

    documents = []
    for route_class in (APIRoute, DirectRoute):
        probe = FastAPI()
        probe.router.add_api_route(
            "/r", endpoint, methods=["POST"], route_class_override=route_class
        )
        documents.append(probe.openapi())
    assert documents[0] == documents[1]
