"""The list answered without FastAPI's request handler (app/study/crud.py `list_directly`)
answers as FastAPI's handler does: the same status, headers' content type and bytes for
the usual pages and for every query it leaves to FastAPI (filters, an order, a value to
parse or refuse), signed in or not. Each request is sent twice, once answered directly
where it can be and once by FastAPI's handler (any dependency override turns the direct
answer off)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.auth.dependencies import authenticate
from app.study import crud
from tests.conftest import register_and_login, unique_email
from tests.study.conftest import URL

pytestmark = pytest.mark.dialects

# (query string, answered directly when signed in)
_QUERIES: list[tuple[str, bool]] = [
    ("", True),
    ("page=1&size=20", True),
    ("size=5", True),
    ("page=2&size=5", True),
    ("size=5&page=3", True),
    ("page=9&size=20", True),  # past the end
    ("page=1000000&size=100", True),
    ("size=%32", True),  # "2", decoded as FastAPI decodes it
    ("page=0", False),
    ("size=0", False),
    ("size=101", False),
    ("page=1000001", False),
    ("page=01", False),
    ("page=%2B1", False),
    ("page=%201", False),
    ("page=1.0", False),
    ("page=", False),
    ("size=abc", False),
    ("page=1&page=2", False),
    ("size=\u0661", False),  # an Arabic-Indic one: a digit to str.isdigit, not to FastAPI
    ("order_by=title", False),
    ("order_by=-studied_on&page=1", False),
    ("subject=Go&size=5", False),
    ("q=Chan", False),
    ("page=1&sort=x", False),  # the API's 422 for an unknown parameter, before either
]


async def test_answers_as_fastapi_does(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = await register_and_login(client, unique_email("direct-list"))
    for n in range(7):
        body = {"subject": f"S{n % 2}", "title": f"Chan {n}", "minutes": 5 + n}
        body["studied_on"] = f"2024-03-{1 + n % 3:02d}"  # ties on the day: the id decides
        assert (await client.post(URL, json=body, headers=headers)).status_code == 201
    direct_calls = 0

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal direct_calls
        direct_calls += 1
        return await authenticate(*args, **kwargs)

    monkeypatch.setattr(crud, "authenticate", counted)  # the direct answer's admission only
    expected = 0
    for query, answered_directly in _QUERIES:
        for auth in (headers, {}, {"Authorization": "Bearer not-a-token"}):
            direct = await client.get(f"{URL}?{query}", headers=auth)
            app.dependency_overrides[authenticate] = authenticate  # FastAPI's handler answers
            try:
                handled = await client.get(f"{URL}?{query}", headers=auth)
            finally:
                app.dependency_overrides.clear()
            case = (query, bool(auth), auth.get("Authorization", "")[:12])
            assert direct.status_code == handled.status_code, case
            assert direct.content == handled.content, case
            assert direct.headers["content-type"] == handled.headers["content-type"], case
            expected += answered_directly
    assert direct_calls == expected


async def test_the_usual_page_is_the_page(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    for n in range(3):
        body = {"subject": "Go", "title": f"t{n}", "minutes": 5, "studied_on": f"2024-01-0{n + 1}"}
        assert (await client.post(URL, json=body, headers=user_headers)).status_code == 201
    page = (await client.get(f"{URL}?page=1&size=2", headers=user_headers)).json()
    assert [item["title"] for item in page["items"]] == ["t2", "t1"]
    assert (page["total"], page["page"], page["size"], page["pages"]) == (3, 1, 2, 2)
    assert (await client.get(f"{URL}?size=2", headers={})).status_code == 401
