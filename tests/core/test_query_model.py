"""A query string read in one step (app/http/query.py) answers exactly as FastAPI answers the
same parameters declared one by one: the same values, the same 422 problems in the same
order, the same published parameters. Checked on the two record lists' declarations, each
served both ways by a bare FastAPI app, over valid, invalid, repeated and odd query strings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Query

from app.http.query import QueryModel, QueryModelRoute, query_model
from app.study.dependencies import cursor_query, list_query

_COMMON = [
    "",
    "size=20",
    "size=0",
    "size=101",
    "size=abc&page=0&order_by=sideways",
    "size=5&size=7",  # the last value counts
    "size=+5",
    "size=%205",
    "size=1e2",
    "size=99999999999999999999999",
    "order_by=minutes",
    "order_by=-created_at&subject=Go&q=intro",
    "subject=",
    "subject=" + "x" * 101,
    "q=" + "y" * 201,
    "studied_from=2026-01-31&studied_to=2026-02-01",
    "studied_from=2026-02-01&studied_to=2026-01-31",  # the declaration's own range check
    "studied_from=2026-13-01",
    "studied_from=2026-01-01T00:00:00",
    "studied_to=yesterday&studied_from=",
    "unknown=1&size=3",  # unknown names are the app-wide rule's, not the model's
]
_CASES: dict[str, list[str]] = {
    "list": [*_COMMON, "page=2", "page=1000001", "page=-1&size=-1"],
    "cursor": [
        *_COMMON,
        "cursor=",
        "cursor=not-base64",
        "cursor=WyJ4Il0=",
        "cursor=" + "a" * 600,
        "cursor=WyItc3R1ZGllZF9vbiIsImYiLCIyMDI2LTAxLTAxIiwxXQ==",
        "cursor=WyItc3R1ZGllZF9vbiIsImYiLCIyMDI2LTAxLTAxIiwxXQ==&order_by=minutes",
    ],
}
_DECLARATIONS: dict[str, Callable[..., Any]] = {"list": list_query, "cursor": cursor_query}


def _served(dependency: Any, *, route_class: type | None = None) -> FastAPI:
    app = FastAPI()
    if route_class is not None:
        app.router.route_class = route_class

    @app.get("/")
    async def answer(value: Any = Depends(dependency)) -> Any:
        return value

    return app


async def _ask(app: FastAPI, query: str) -> tuple[int, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/?" + query if query else "/")
    return response.status_code, response.json()


@pytest.mark.parametrize("name", list(_CASES))
async def test_one_step_reading_answers_as_fastapi_does(name: str) -> None:
    declare = _DECLARATIONS[name]
    one_by_one = _served(declare)
    one_step = _served(query_model(declare))
    refused = 0
    for query in _CASES[name]:
        expected = await _ask(one_by_one, query)
        assert await _ask(one_step, query) == expected, query
        refused += expected[0] == 422
    # The cases reach both outcomes, and most are refusals.
    assert 0 < refused < len(_CASES[name])


@pytest.mark.parametrize("name", list(_CASES))
def test_the_route_publishes_what_fastapi_publishes(name: str) -> None:
    declare = _DECLARATIONS[name]
    expected = _served(declare).openapi()
    published = _served(query_model(declare), route_class=QueryModelRoute).openapi()
    assert published["paths"]["/"]["get"] == expected["paths"]["/"]["get"]
    assert len(published["paths"]["/"]["get"]["parameters"]) == 7
    # Without the route class the parameters are not published at all.
    bare = _served(query_model(declare)).openapi()["paths"]["/"]["get"]
    assert "parameters" not in bare


async def _aliased(
    *, file_format: Annotated[str, Query(alias="format", max_length=5)] = "csv", size: int = 1
) -> Any:
    return {"file_format": file_format, "size": size}


async def test_an_alias_is_the_name_read_and_published() -> None:
    reader = QueryModel(_aliased)
    assert reader.names == {"format", "size"}
    one_by_one, one_step = _served(_aliased), _served(reader)
    for query in ("format=jsonl&size=2", "file_format=jsonl", "format=toolong", "size=x"):
        assert await _ask(one_step, query) == await _ask(one_by_one, query), query
    assert await _ask(one_step, "format=jsonl") == (200, {"file_format": "jsonl", "size": 1})
    names = [p["name"] for p in reader.openapi()["parameters"]]
    assert names == ["format", "size"]


async def _several(*, tag: Annotated[list[str] | None, Query()] = None) -> Any:
    return tag


async def _several_sequence(*, tag: Sequence[int] = ()) -> Any:
    return tag


@pytest.mark.parametrize("declare", [_several, _several_sequence])
def test_a_parameter_of_several_values_is_refused_at_start_up(declare: Any) -> None:
    # `?tag=a&tag=b` means two values to FastAPI; read one value per name it would mean one.
    with pytest.raises(TypeError, match="tag takes several values"):
        QueryModel(declare)
