"""GET /study-records/cursor: keyset pages with the list's filters and orders."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.exceptions import RequestValidationError

from app.study.dependencies import decode_position
from app.study.models import StudyRecord
from app.study.records import create_many
from tests.study.conftest import URL, create_record, user_id

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects

CURSOR_URL = f"{URL}/cursor"
ORDERS = ("studied_on", "-studied_on", "minutes", "-minutes", "created_at", "-created_at")
MOMENT = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


async def _seed(client: httpx.AsyncClient, headers: dict[str, str], count: int = 40) -> None:
    """Records with many ties in every sort key: 4 days, 3 minute values, 2 created_at."""
    owner = await user_id(client, headers)
    await create_many(
        StudyRecord(
            owner_id=owner,
            subject=("Go", "Rust")[i % 2],
            title=f"note {i}",
            minutes=(10, 20, 30)[i % 3],
            studied_on=date(2024, 3, 1) + timedelta(days=i % 4),
            created_at=MOMENT + timedelta(seconds=i % 2),
            updated_at=MOMENT,
        )
        for i in range(count)
    )


def _expected(rows: list[dict[str, Any]], order_by: str) -> list[int]:
    key = order_by.lstrip("-")
    ordered = sorted(rows, key=lambda row: (row[key], row["id"]))
    if order_by.startswith("-"):
        ordered.reverse()
    return [row["id"] for row in ordered]


async def _get(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> httpx.Response:
    return await client.get(CURSOR_URL, params=params, headers=headers)


async def _walk(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> tuple[list[list[int]], dict[str, Any]]:
    """Every page from the first by `next_page`: (ids per page, the last page's body)."""
    pages: list[list[int]] = []
    cursor: str | None = None
    current: str | None = None
    while True:
        response = await _get(client, headers, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["current_page"] == current
        pages.append([item["id"] for item in body["items"]])
        current = cursor = body["next_page"]
        if cursor is None:
            return pages, body


@pytest.mark.parametrize("order_by", ORDERS)
async def test_a_walk_returns_every_record_once_in_order_and_back(
    client: httpx.AsyncClient, user_headers: dict[str, str], order_by: str
) -> None:
    await _seed(client, user_headers)
    rows = await StudyRecord.all().values("id", "studied_on", "minutes", "created_at")
    pages, last = await _walk(client, user_headers, order_by=order_by, size=7)
    walked = [record_id for page in pages for record_id in page]
    assert walked == _expected(rows, order_by)
    assert [len(page) for page in pages] == [7, 7, 7, 7, 7, 5]

    # And back again from the last page by `previous_page`: the same pages, reversed.
    backwards = []
    cursor = last["previous_page"]
    while cursor is not None:
        response = await _get(client, user_headers, order_by=order_by, size=7, cursor=cursor)
        assert response.status_code == 200, response.text
        backwards.append([item["id"] for item in response.json()["items"]])
        cursor = response.json()["previous_page"]
    assert backwards == pages[-2::-1]


async def test_page_matches_the_offset_list_with_filters(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    await _seed(client, user_headers)
    params = {"subject": "Go", "studied_from": "2024-03-02", "q": "NOTE", "order_by": "minutes"}
    listed = await client.get(URL, params={**params, "size": 100}, headers=user_headers)
    pages, _ = await _walk(client, user_headers, **params, size=3)
    assert [r for page in pages for r in page] == [item["id"] for item in listed.json()["items"]]
    assert listed.json()["total"] > 3


async def test_only_the_callers_records_and_all_for_a_superuser(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_user_headers: dict[str, str],
    superuser_headers: dict[str, str],
) -> None:
    mine = await create_record(client, user_headers)
    theirs = await create_record(client, other_user_headers)
    body = (await _get(client, user_headers)).json()
    assert [item["id"] for item in body["items"]] == [mine["id"]]
    assert "total" not in body
    everyone = (await _get(client, superuser_headers, order_by="created_at")).json()
    assert [item["id"] for item in everyone["items"]] == [mine["id"], theirs["id"]]


async def test_cursor_needs_a_user(client: httpx.AsyncClient) -> None:
    assert (await client.get(CURSOR_URL)).status_code == 401


def _b64(content: str | bytes) -> str:
    raw = content.encode() if isinstance(content, str) else content
    return base64.b64encode(raw).decode()


def _made(*content: Any) -> str:
    return _b64(json.dumps(list(content)))


TAMPERED = {
    "garbage": "!!!not a cursor!!!",
    "not base64 padding": "abc",
    "base64 of text": _b64("hello"),
    "base64 of bytes": _b64(b"\xff\xfe\x00"),
    "json object": _b64('{"id": 1}'),
    "too few parts": _made("-studied_on", "f", "2024-03-01"),
    "unknown order": _made("title", "f", "x", 1),
    "unknown direction": _made("-studied_on", "x", "2024-03-01", 1),
    "bad date": _made("-studied_on", "f", "2024-13-01", 1),
    "NUL in date": _made("-studied_on", "f", "2024-03-01\x00", 1),
    "NUL bytes": "\x00\x00\x00\x00",
    "id zero": _made("-studied_on", "f", "2024-03-01", 0),
    "id too big": _made("-studied_on", "f", "2024-03-01", 2**31),
    "id as text": _made("-studied_on", "f", "2024-03-01", "1"),
    "id as bool": _made("-studied_on", "f", "2024-03-01", True),
    "minutes huge": _made("-minutes", "f", 2**40, 1),
    "minutes as float": _made("-minutes", "f", 1.5, 1),
    "created_at without zone": _made("-created_at", "f", "2024-03-01T12:00:00", 1),
    "moment past 9999 in UTC": _made("-created_at", "f", "9999-12-31T23:00:00-12:00", 1),
    "other order": _made("minutes", "f", 10, 1),
    "deep nesting": _b64("[" * 300 + "]" * 300),
    "too long": "A" * 600,
}


@pytest.mark.parametrize("cursor", TAMPERED.values(), ids=TAMPERED.keys())
def test_tampered_cursor_is_refused_by_the_decoder(cursor: str) -> None:
    with pytest.raises(RequestValidationError) as refused:
        decode_position(cursor, "-studied_on")
    assert refused.value.errors()[0]["loc"] == ("query", "cursor")


# One of each way a cursor is refused on its way in: by the decoder, by the text guard
# before the app, by its length.
TAMPERED_OVER_HTTP = ("garbage", "minutes huge", "NUL bytes", "too long")


async def test_tampered_cursor_is_422(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    await create_record(client, user_headers)
    for name in TAMPERED_OVER_HTTP:
        response = await _get(client, user_headers, cursor=TAMPERED[name])
        assert response.status_code == 422, (name, response.text)
        assert response.json()["detail"][0]["loc"] == ["query", "cursor"], name


async def test_truncated_cursor_is_422(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    await _seed(client, user_headers, count=5)
    cursor = (await _get(client, user_headers, size=2)).json()["next_page"]
    for cut in (1, 2, 5, len(cursor) // 2):
        response = await _get(client, user_headers, size=2, cursor=cursor[:-cut])
        assert response.status_code == 422, (cut, response.text)


async def test_huge_cursor_is_a_4xx_before_the_app(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    response = await client.get(f"{CURSOR_URL}?cursor={'A' * 20_000}", headers=user_headers)
    assert 400 <= response.status_code < 500


EDGES = {
    "first day": _made("-studied_on", "f", "0001-01-01", 1),
    "last day": _made("-studied_on", "b", "9999-12-31", 2**31 - 1),
    "first moment": _made("created_at", "f", "0001-01-01T00:00:00+00:00", 1),
    "last moment": _made("-created_at", "b", "9999-12-31T23:59:59.999999+00:00", 1),
    "negative minutes": _made("minutes", "f", -(2**31), 1),
}


@pytest.mark.parametrize("cursor", EDGES.values(), ids=EDGES.keys())
async def test_extreme_but_well_formed_cursor_is_answered(
    client: httpx.AsyncClient, user_headers: dict[str, str], cursor: str
) -> None:
    await create_record(client, user_headers)
    order_by = json.loads(base64.b64decode(cursor))[0]
    response = await _get(client, user_headers, cursor=cursor, order_by=order_by)
    assert response.status_code == 200, response.text


async def test_cursor_survives_being_quoted_again(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    """A client that URL-encodes the cursor it was given (or does not) gets the same page."""
    await _seed(client, user_headers, count=5)
    cursor = (await _get(client, user_headers, size=2)).json()["next_page"]
    plain = await client.get(f"{CURSOR_URL}?size=2&cursor={cursor}", headers=user_headers)
    quoted = await client.get(f"{CURSOR_URL}?size=2&cursor={quote(cursor)}", headers=user_headers)
    assert plain.status_code == quoted.status_code == 200
    assert plain.json()["items"] == quoted.json()["items"]


async def test_cursors_in_the_body_are_plain_base64(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    """A page's cursors are not percent-encoded (`%3D`): a client puts one in its URL as
    any value, encoded once; one sent with its `+` left raw (read as a space) works too."""
    for minutes in (1, 10, 100, 1000, 2, 20):
        await create_record(client, user_headers, minutes=minutes)
    cursors: list[str] = []
    params: dict[str, Any] = {"size": 1, "order_by": "minutes"}
    while True:
        answer = await client.get(CURSOR_URL, params=params, headers=user_headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        if page["next_page"] is None:
            break
        cursors.append(page["next_page"])
        params["cursor"] = page["next_page"]
    assert len(cursors) == 5
    for cursor in cursors:
        assert "%" not in cursor
        base64.b64decode(cursor, validate=True)
    assert any(cursor.endswith("=") for cursor in cursors)
    # What a naive client sends when it does not encode: `+` arrives as a space.
    raw = cursors[0].replace("+", " ")
    again = await client.get(
        CURSOR_URL,
        params={"size": 1, "order_by": "minutes", "cursor": raw},
        headers=user_headers,
    )
    assert again.status_code == 200, again.text
