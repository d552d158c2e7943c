"""Walks every route the app serves under /api/v1/study-records and proves what it does.

fastapi-crudrouter is unmaintained and pinned; if an upgrade adds, drops or changes a
generated route, the set of routes or one of the behaviours below stops matching.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from app.auth.dependencies import authenticate
from app.http.direct import FrontRoute
from app.main import create_app
from app.study.crud import StudyRecordCRUDRouter
from app.study.dependencies import count_write
from app.study.models import StudyRecord
from settings import Settings
from tests.study.conftest import URL, create_record, payload, row_snapshot

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects

ITEM = f"{URL}/{{item_id}}"


@dataclass
class Callers:
    client: httpx.AsyncClient
    owner: dict[str, str]
    other: dict[str, str]


Check = Callable[[Callers], Awaitable[None]]


async def _expect_item_404_for_others(c: Callers, method: str, body: object) -> int:
    record = await create_record(c.client, c.owner)
    before = await row_snapshot()
    response = await c.client.request(method, f"{URL}/{record['id']}", json=body, headers=c.other)
    assert (response.status_code, response.json()) == (404, {"detail": "Item not found"})
    assert await row_snapshot() == before
    return record["id"]


async def check_list(c: Callers) -> None:
    await create_record(c.client, c.owner)
    mine = await c.client.get(URL, headers=c.owner)
    assert mine.status_code == 200
    assert set(mine.json()) == {"items", "total", "page", "size", "pages"}
    assert mine.json()["total"] == 1
    assert (await c.client.get(URL, headers=c.other)).json()["total"] == 0


async def check_create(c: Callers) -> None:
    response = await c.client.post(URL, json=payload(), headers=c.owner)
    assert response.status_code == 201
    assert await StudyRecord.filter(id=response.json()["id"]).count() == 1


async def check_get(c: Callers) -> None:
    record_id = await _expect_item_404_for_others(c, "GET", None)
    response = await c.client.get(f"{URL}/{record_id}", headers=c.owner)
    assert (response.status_code, response.json()["id"]) == (200, record_id)


async def check_put(c: Callers) -> None:
    record_id = await _expect_item_404_for_others(c, "PUT", payload(title="x"))
    response = await c.client.put(
        f"{URL}/{record_id}", json=payload(title="Replaced"), headers=c.owner
    )
    assert (response.status_code, response.json()["title"]) == (200, "Replaced")


async def check_patch(c: Callers) -> None:
    record_id = await _expect_item_404_for_others(c, "PATCH", {"minutes": 1})
    response = await c.client.patch(f"{URL}/{record_id}", json={"minutes": 7}, headers=c.owner)
    assert (response.status_code, response.json()["minutes"]) == (200, 7)


async def check_delete(c: Callers) -> None:
    record_id = await _expect_item_404_for_others(c, "DELETE", None)
    response = await c.client.delete(f"{URL}/{record_id}", headers=c.owner)
    assert (response.status_code, response.json()["id"]) == (200, record_id)
    assert await StudyRecord.filter(id=record_id).count() == 0


async def check_stats(c: Callers) -> None:
    before = (await c.client.get(f"{URL}/stats?studied_from=2024-01-01", headers=c.owner)).json()[
        "total_minutes"
    ]
    await create_record(c.client, c.owner, minutes=25)  # on 2024-03-01
    # The default window is the last STATS_MAX_DAYS days: the record's year is asked for.
    mine = await c.client.get(f"{URL}/stats?studied_from=2024-01-01", headers=c.owner)
    assert (mine.status_code, mine.json()["total_minutes"]) == (200, before + 25)
    assert (await c.client.get(f"{URL}/stats", headers=c.other)).json()["record_count"] == 0


async def check_cursor(c: Callers) -> None:
    created = await create_record(c.client, c.owner)
    mine = await c.client.get(f"{URL}/cursor", headers=c.owner)
    assert mine.status_code == 200
    assert created["id"] in [item["id"] for item in mine.json()["items"]]
    assert (await c.client.get(f"{URL}/cursor", headers=c.other)).json()["items"] == []


async def check_export(c: Callers) -> None:
    created = await create_record(c.client, c.owner)
    mine = await c.client.get(f"{URL}/export", params={"format": "jsonl"}, headers=c.owner)
    assert mine.status_code == 200
    # The list's order: the record just created (today's, the latest) comes first.
    assert mine.text.splitlines()[0].startswith(f'{{"id":{created["id"]},')
    theirs = await c.client.get(f"{URL}/export", params={"format": "jsonl"}, headers=c.other)
    assert theirs.text == ""


async def _export_job(c: Callers) -> str:
    response = await c.client.post(f"{URL}/exports", json={"format": "csv"}, headers=c.owner)
    assert response.status_code == 202
    return response.json()["id"]


async def check_create_export_job(c: Callers) -> None:
    job_id = await _export_job(c)
    assert (await c.client.get(f"{URL}/exports/{job_id}", headers=c.owner)).status_code == 200


async def check_list_export_jobs(c: Callers) -> None:
    await _export_job(c)
    assert (await c.client.get(f"{URL}/exports", headers=c.owner)).json()["total"] >= 1
    assert (await c.client.get(f"{URL}/exports", headers=c.other)).json()["total"] == 0


async def check_get_export_job(c: Callers) -> None:
    job_id = await _export_job(c)
    mine = await c.client.get(f"{URL}/exports/{job_id}", headers=c.owner)
    assert (mine.status_code, mine.json()["id"]) == (200, job_id)
    theirs = await c.client.get(f"{URL}/exports/{job_id}", headers=c.other)
    assert (theirs.status_code, theirs.json()) == (404, {"detail": "Item not found"})


async def check_download_export_job(c: Callers) -> None:
    job_id = await _export_job(c)
    mine = await c.client.get(f"{URL}/exports/{job_id}/download", headers=c.owner)
    assert mine.status_code == 200
    assert mine.text.startswith("id,owner_id,")
    theirs = await c.client.get(f"{URL}/exports/{job_id}/download", headers=c.other)
    assert theirs.status_code == 404


EXPECTED: dict[tuple[str, str], Check] = {
    (URL, "GET"): check_list,
    (URL, "POST"): check_create,
    (ITEM, "GET"): check_get,
    (ITEM, "PUT"): check_put,
    (ITEM, "PATCH"): check_patch,
    (ITEM, "DELETE"): check_delete,
    (f"{URL}/stats", "GET"): check_stats,
    (f"{URL}/cursor", "GET"): check_cursor,
    (f"{URL}/export", "GET"): check_export,
    (f"{URL}/exports", "POST"): check_create_export_job,
    (f"{URL}/exports", "GET"): check_list_export_jobs,
    (f"{URL}/exports/{{job_id}}", "GET"): check_get_export_job,
    (f"{URL}/exports/{{job_id}}/download", "GET"): check_download_export_job,
}
GENERATED = {key for key in EXPECTED if key[0] in {URL, ITEM}}


def served_routes(settings: Settings) -> dict[tuple[str, str], object]:
    app = create_app(settings)
    routes: dict[tuple[str, str], object] = {}
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, FrontRoute):
            continue  # the create's entrance in front of routing, not a route of its own
        if route.path and route.path.startswith(URL):
            for method in route.methods or ():
                assert (route.path, method) not in routes, "a route is registered twice"
                routes[(route.path, method)] = route.endpoint
    return routes


async def test_every_generated_route_is_known_and_behaves(
    client: httpx.AsyncClient,
    settings: Settings,
    user_headers: dict[str, str],
    other_user_headers: dict[str, str],
) -> None:
    routes = served_routes(settings)
    assert set(routes) == set(EXPECTED)
    # The generated ones run this project's factories, not the library's defaults.
    for key in GENERATED:
        qualname = getattr(routes[key], "__qualname__", "")
        assert qualname.startswith(f"{StudyRecordCRUDRouter.__name__}."), key

    callers = Callers(client=client, owner=user_headers, other=other_user_headers)
    for (path, method), check in EXPECTED.items():
        concrete = path.replace("{item_id}", "1")
        anonymous = await client.request(method, concrete, json=payload())
        assert anonymous.status_code == 401, (path, method)
        await check(callers)


def _calls(dependant: Dependant) -> set[object]:
    found = set()
    for sub in dependant.dependencies:
        found.add(sub.call)
        found |= _calls(sub)
    return found


def test_every_route_authenticates_itself(settings: Settings) -> None:
    """There is no router-wide user dependency (FastAPI would walk that tree twice per
    request): each route must reach `authenticate` through its own parameters, one a later
    library release adds included, or `count_write`, which admits with `authenticate`'s
    own code (`authenticate_counting`) before it counts the write."""
    app = create_app(settings)
    checked = 0
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and (route.path or "").startswith(URL):
            assert _calls(route.dependant) & {authenticate, count_write}, route.path
            checked += len(route.methods or ())
    assert checked == len(EXPECTED)


async def test_delete_all_route_is_not_generated(
    client: httpx.AsyncClient, settings: Settings, user_headers: dict[str, str]
) -> None:
    assert (URL, "DELETE") not in served_routes(settings)
    await create_record(client, user_headers)
    response = await client.delete(URL, headers=user_headers)
    assert response.status_code == 405
    assert await StudyRecord.all().count() == 1


async def test_openapi_describes_the_routes(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths[URL]) == {"get", "post"}
    assert set(paths[ITEM]) == {"get", "put", "patch", "delete"}
    assert "201" in paths[URL]["post"]["responses"]
    listed = paths[URL]["get"]["parameters"]
    assert {p["name"] for p in listed} >= {"page", "size", "subject", "q", "order_by"}
