"""A page answered as bytes in one pass (app/http/pagination.py `PageAnswer`) is byte for
byte what FastAPI answers when a route returns the page model itself, for both record page
shapes, and it validates its items as the model does."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.exceptions import ResponseValidationError
from fastapi_pagination import Page, Params
from pydantic import ValidationError

from app.http.pagination import PageAnswer, PlainCursorParams
from app.study.schemas import StudyRecordCursorPage, StudyRecordRead

_MOMENT = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def _row(n: int, **changes: Any) -> dict[str, Any]:
    row = {
        "id": n,
        "owner_id": uuid.UUID(int=n),
        "subject": f"Subject {n % 3}",
        "title": f'Session {n} \u00e9\u4e2d\U0001f600 "quoted" \\ </script>',
        "minutes": 30 + n,
        "studied_on": date(2026, 1, 1) + timedelta(days=n),
        "notes": "" if n % 2 else "line\nbreak\ttab",
        "created_at": _MOMENT + timedelta(seconds=n),
        "updated_at": _MOMENT.astimezone(timezone(timedelta(hours=8))),
    }
    row.update(changes)
    return row


# The same page as MySQL's JSON rows hand it over: times and days as text, ids as text.
_TEXT_ROWS = [
    {
        **_row(n),
        "owner_id": str(uuid.UUID(int=n)),
        "studied_on": (date(2026, 1, 1) + timedelta(days=n)).isoformat(),
        "created_at": (_MOMENT + timedelta(seconds=n)).isoformat(),
        "updated_at": _MOMENT.isoformat(),
    }
    for n in range(1, 4)
]

_PAGES: list[tuple[type, dict[str, Any]]] = [
    (Page[StudyRecordRead], {"items": [], "total": 0, "params": Params(page=1, size=20)}),
    (
        Page[StudyRecordRead],
        {"items": [_row(n) for n in range(20)], "total": 61, "params": Params(page=2, size=20)},
    ),
    (Page[StudyRecordRead], {"items": _TEXT_ROWS, "total": 3, "params": Params(page=1, size=5)}),
    (StudyRecordCursorPage, {"items": [], "params": PlainCursorParams(size=5)}),
    (
        StudyRecordCursorPage,
        {
            "items": [_row(n) for n in range(5)],
            "params": PlainCursorParams(cursor="abc", size=5),
            "current": '["-studied_on","f","2026-01-01",1]',
            "current_backwards": '["-studied_on","b","2026-01-01",1]',
            "next_": '["-studied_on","f","2026-01-06",6]',
            "previous": None,
        },
    ),
]


def _model_route(page_model: type, page: dict[str, Any]) -> FastAPI:
    app = FastAPI()

    @app.get("/", response_model=page_model)
    async def answer() -> Any:
        return page_model.create(**page)  # type: ignore[attr-defined]

    return app


@pytest.mark.parametrize(("page_model", "page"), _PAGES)
async def test_the_bytes_are_fastapis(page_model: type, page: dict[str, Any]) -> None:
    transport = httpx.ASGITransport(app=_model_route(page_model, page))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        expected = await client.get("/")
    assert expected.status_code == 200
    answer = PageAnswer(page_model)(**page)
    assert answer.body == expected.content
    assert answer.headers["content-type"] == expected.headers["content-type"]
    assert answer.status_code == 200


async def test_items_are_validated_as_the_model_validates_them() -> None:
    bad = {"items": [_row(1, minutes="many")], "total": 1, "params": Params(page=1, size=5)}
    with pytest.raises(ValidationError):
        PageAnswer(Page[StudyRecordRead])(**bad)
    transport = httpx.ASGITransport(app=_model_route(Page[StudyRecordRead], bad))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises((ValidationError, ResponseValidationError)):
            await client.get("/")
