"""Oversized requests: bodies over 1 MiB (413, refused unread), long query strings (414),
huge headers (431); JSON answers, nothing stored."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson

from app.main import MAX_HEADER_BYTES, MAX_QUERY_BYTES, MAX_REQUEST_BODY_BYTES
from app.study.models import StudyRecord

URL = "/api/v1/study-records"
TOO_LARGE = {"detail": "Content Too Large"}


def record_with_notes(size: int) -> bytes:
    return orjson.dumps(
        {
            "subject": "s",
            "title": "t",
            "minutes": 5,
            "studied_on": "2024-01-01",
            "notes": "n" * size,
        }
    )


async def test_declared_oversize_body_is_refused_unread(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    body = record_with_notes(2 * MAX_REQUEST_BODY_BYTES)
    headers = {**user_headers, "Content-Type": "application/json"}
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert await StudyRecord.all().count() == 0


async def test_streamed_oversize_body_stops_being_read(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    chunk = b" " * 65_536  # JSON whitespace, 64 KiB at a time, no Content-Length
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(64):  # 4 MiB offered
            sent += 1
            yield chunk

    headers = {**user_headers, "Content-Type": "application/json"}
    response = await client.post(URL, content=endless(), headers=headers)
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    # Reading stopped just past the limit, not at the end of what was offered.
    assert sent <= MAX_REQUEST_BODY_BYTES // len(chunk) + 2
    assert await StudyRecord.all().count() == 0


async def test_body_under_the_limit_reaches_validation(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    response = await client.post(
        URL, content=record_with_notes(MAX_REQUEST_BODY_BYTES - 200), headers=user_headers
    )
    assert response.status_code == 422  # notes too long: the contract's own limit
    assert await StudyRecord.all().count() == 0


async def test_oversized_query_string_is_414(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    response = await client.get(
        URL, params={"q": "x" * (MAX_QUERY_BYTES + 1)}, headers=user_headers
    )
    assert response.status_code == 414
    assert response.json() == {"detail": "URI Too Long"}
    fits = await client.get(URL, params={"subject": "math"}, headers=user_headers)
    assert fits.status_code == 200


async def test_oversized_headers_are_431(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    headers = {**user_headers, "X-Padding": "p" * MAX_HEADER_BYTES}
    response = await client.post(URL, content=record_with_notes(10), headers=headers)
    assert response.status_code == 431
    assert response.json() == {"detail": "Request Header Fields Too Large"}
    assert await StudyRecord.all().count() == 0
