"""The study record CRUD routes, as the Study records section of docs/API.md has them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.auth.models import User
from app.auth.sessions import invalidate_cached_user
from app.study.models import StudyRecord
from tests.study.conftest import URL, create_record, payload, row_snapshot, user_id

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects

NOT_FOUND = {"detail": "Item not found"}
RECORD_KEYS = {
    "id",
    "owner_id",
    "subject",
    "title",
    "minutes",
    "studied_on",
    "notes",
    "created_at",
    "updated_at",
}

# Each is invalid for one reason; every one must answer 422 and store nothing.
INVALID_BODIES: list[dict[str, Any]] = [
    payload(minutes=0),
    payload(minutes=1441),
    payload(minutes=-5),
    payload(minutes="abc"),
    payload(minutes=1.5),
    payload(minutes=None),
    payload(subject=""),
    payload(subject="   "),
    payload(subject="s" * 101),
    payload(subject=None),
    payload(title=""),
    payload(title="\t \n"),
    payload(title="t" * 201),
    payload(notes="n" * 10_001),
    payload(notes=None),
    payload(studied_on="2023-02-30"),
    payload(studied_on="2023-13-01"),
    payload(studied_on="yesterday"),
    payload(studied_on=0),  # found by the fuzzer: pydantic read numbers as Unix time
    payload(studied_on="1700000000"),
    payload(studied_on=None),
    {key: value for key, value in payload().items() if key != "minutes"},
    {key: value for key, value in payload().items() if key != "subject"},
    {key: value for key, value in payload().items() if key != "title"},
]

BAD_IDS = ["abc", "1.5", "0", "-1", "99999999999999999999", "2147483648", "1%20OR%201=1"]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- create -----------------------------------------------------------------------------


async def test_create_answers_201_with_the_record(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    response = await client.post(URL, json=payload(), headers=user_headers)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == RECORD_KEYS
    assert body["owner_id"] == str(await user_id(client, user_headers))
    assert {k: body[k] for k in ("subject", "title", "minutes", "studied_on", "notes")} == {
        "subject": "Mathematics",
        "title": "Linear algebra: eigenvalues",
        "minutes": 45,
        "studied_on": "2024-03-01",
        "notes": "Chapter 5",
    }
    assert parse_time(body["created_at"]).utcoffset() == timedelta(0)
    assert await StudyRecord.filter(id=body["id"]).count() == 1


async def test_create_defaults_to_today_utc_and_empty_notes(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    before = datetime.now(UTC).date()
    body = {"subject": "Go", "title": "Channels", "minutes": 20}
    response = await client.post(URL, json=body, headers=user_headers)
    after = datetime.now(UTC).date()
    assert response.status_code == 201
    assert date.fromisoformat(response.json()["studied_on"]) in {before, after}
    assert response.json()["notes"] == ""


async def test_create_strips_subject_and_title_and_keeps_the_limits(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    record = await create_record(client, user_headers, subject="  Go  ", title=" Maps ")
    assert (record["subject"], record["title"]) == ("Go", "Maps")
    edge = await create_record(
        client,
        user_headers,
        subject="s" * 100,
        title="t" * 200,
        minutes=1440,
        notes="n" * 10_000,
    )
    assert (len(edge["subject"]), len(edge["title"]), len(edge["notes"])) == (100, 200, 10_000)
    assert (await create_record(client, user_headers, minutes=1))["minutes"] == 1


async def test_owner_id_id_and_timestamps_never_come_from_the_client(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    other_id = await user_id(client, other_user_headers)
    forged = payload(
        id=2_147_000_000,
        owner_id=str(other_id),
        created_at="2000-01-01T00:00:00Z",
        updated_at="2000-01-01T00:00:00Z",
    )
    forged_keys = {("body", key) for key in ("id", "owner_id", "created_at", "updated_at")}
    # Refused by name (not silently dropped): the client learns its body was wrong.
    response = await client.post(URL, json=forged, headers=user_headers)
    assert response.status_code == 422
    assert {tuple(p["loc"]) for p in response.json()["detail"]} == forged_keys
    assert await StudyRecord.all().count() == 0
    body = await create_record(client, user_headers)
    assert body["owner_id"] == str(await user_id(client, user_headers))
    assert parse_time(body["created_at"]).year > 2000
    for method in ("PUT", "PATCH"):
        changed = await client.request(
            method, f"{URL}/{body['id']}", json=forged, headers=user_headers
        )
        assert changed.status_code == 422
        assert {tuple(p["loc"]) for p in changed.json()["detail"]} == forged_keys
    stored = await StudyRecord.get(id=body["id"])
    assert (str(stored.owner_id), stored.minutes) == (body["owner_id"], body["minutes"])
    assert await StudyRecord.filter(owner_id=other_id).count() == 0


async def test_invalid_create_input_is_422_and_stores_nothing(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    for body in [*INVALID_BODIES, [], "text", None]:
        response = await client.post(URL, json=body, headers=user_headers)
        assert response.status_code == 422, (body, response.text)
        assert "detail" in response.json()
    not_json = await client.post(
        URL, content=b"{not json", headers={**user_headers, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    assert await StudyRecord.all().count() == 0


# --- read -------------------------------------------------------------------------------


async def test_get_answers_the_record(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    record = await create_record(client, user_headers)
    response = await client.get(f"{URL}/{record['id']}", headers=user_headers)
    assert response.status_code == 200
    assert response.json() == record


async def test_missing_record_is_404(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    response = await client.get(f"{URL}/2147483647", headers=user_headers)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


async def test_non_numeric_or_huge_ids_are_422_and_change_nothing(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    await create_record(client, user_headers)
    before = await row_snapshot()
    for bad_id in BAD_IDS:
        for method, body in (("GET", None), ("PUT", payload()), ("PATCH", {"minutes": 5})):
            response = await client.request(
                method, f"{URL}/{bad_id}", json=body, headers=user_headers
            )
            assert response.status_code == 422, (method, bad_id, response.text)
        response = await client.delete(f"{URL}/{bad_id}", headers=user_headers)
        assert response.status_code == 422, (bad_id, response.text)
    assert await row_snapshot() == before


# --- ownership --------------------------------------------------------------------------


async def test_other_users_record_is_404(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    record = await create_record(client, user_headers)
    missing = await client.get(f"{URL}/2147483647", headers=other_user_headers)
    before = await row_snapshot()
    for method, body in (
        ("GET", None),
        ("PUT", payload(title="stolen")),
        ("PATCH", {"title": "stolen"}),
        ("DELETE", None),
    ):
        response = await client.request(
            method, f"{URL}/{record['id']}", json=body, headers=other_user_headers
        )
        assert response.status_code == 404, method
        # Indistinguishable from a record that does not exist.
        assert response.json() == missing.json() == NOT_FOUND
    assert await row_snapshot() == before


async def test_two_users_never_see_each_others_records(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    mine = [await create_record(client, user_headers, title=f"mine {i}") for i in range(3)]
    theirs = [
        await create_record(client, other_user_headers, title=f"theirs {i}") for i in range(2)
    ]

    for headers, own, foreign in (
        (user_headers, mine, theirs),
        (other_user_headers, theirs, mine),
    ):
        listed = (await client.get(URL, headers=headers)).json()
        assert listed["total"] == len(own)
        assert {r["id"] for r in listed["items"]} == {r["id"] for r in own}
        searched = await client.get(URL, params={"q": "e"}, headers=headers)
        assert {r["id"] for r in searched.json()["items"]} <= {r["id"] for r in own}
        for record in foreign:
            got = await client.get(f"{URL}/{record['id']}", headers=headers)
            assert got.status_code == 404


async def test_superuser_sees_and_changes_every_record(
    client: httpx.AsyncClient, user_headers: dict[str, str], superuser_headers: dict[str, str]
) -> None:
    record = await create_record(client, user_headers)
    await create_record(client, superuser_headers, title="admin's own")

    listed = await client.get(URL, headers=superuser_headers)
    assert listed.json()["total"] == 2
    got = await client.get(f"{URL}/{record['id']}", headers=superuser_headers)
    assert got.json() == record
    patched = await client.patch(
        f"{URL}/{record['id']}", json={"minutes": 90}, headers=superuser_headers
    )
    assert patched.status_code == 200
    assert patched.json()["minutes"] == 90
    assert patched.json()["owner_id"] == record["owner_id"]  # still the user's record
    deleted = await client.delete(f"{URL}/{record['id']}", headers=superuser_headers)
    assert deleted.status_code == 200
    assert await StudyRecord.filter(id=record["id"]).count() == 0


async def test_every_route_needs_an_active_user(
    app: FastAPI, client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    record = await create_record(client, user_headers)
    me = await user_id(client, user_headers)
    # Deactivated behind the API's back, sessions left open: only is_active can refuse.
    await User.filter(id=me).update(is_active=False)
    await invalidate_cached_user(user_id=me, store=app.state.store)  # as every account change does
    for method, path in (
        ("GET", URL),
        ("POST", URL),
        ("GET", f"{URL}/{record['id']}"),
        ("PUT", f"{URL}/{record['id']}"),
        ("PATCH", f"{URL}/{record['id']}"),
        ("DELETE", f"{URL}/{record['id']}"),
        ("GET", f"{URL}/stats"),
        ("GET", f"{URL}/export"),
    ):
        for headers in (user_headers, {"Authorization": "Bearer not-a-token"}, {}):
            response = await client.request(method, path, json=payload(), headers=headers)
            assert response.status_code == 401, (method, path, headers)
    assert await StudyRecord.filter(id=record["id"]).count() == 1


# --- update and delete ------------------------------------------------------------------


async def test_put_replaces_every_input_field(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    record = await create_record(client, user_headers, notes="old notes")
    before = datetime.now(UTC).date()
    response = await client.put(
        f"{URL}/{record['id']}",
        json={"subject": "Physics", "title": "Optics", "minutes": 30},
        headers=user_headers,
    )
    after = datetime.now(UTC).date()
    assert response.status_code == 200
    body = response.json()
    assert (body["subject"], body["title"], body["minutes"]) == ("Physics", "Optics", 30)
    assert body["notes"] == ""  # left out: back to its default
    assert date.fromisoformat(body["studied_on"]) in {before, after}
    assert body["created_at"] == record["created_at"]
    assert parse_time(body["updated_at"]) >= parse_time(record["updated_at"])
    stored = await StudyRecord.get(id=record["id"])
    assert (stored.subject, stored.notes) == ("Physics", "")


async def test_patch_changes_only_the_given_fields(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    record = await create_record(client, user_headers)
    response = await client.patch(
        f"{URL}/{record['id']}", json={"minutes": 60, "notes": ""}, headers=user_headers
    )
    assert response.status_code == 200
    body = response.json()
    unchanged = {k: v for k, v in record.items() if k not in {"minutes", "notes", "updated_at"}}
    assert {k: body[k] for k in unchanged} == unchanged
    assert (body["minutes"], body["notes"]) == (60, "")
    assert parse_time(body["updated_at"]) >= parse_time(record["updated_at"])
    assert (await StudyRecord.get(id=record["id"])).minutes == 60

    empty = await client.patch(f"{URL}/{record['id']}", json={}, headers=user_headers)
    assert empty.status_code == 200
    assert empty.json()["minutes"] == 60


async def test_invalid_update_input_is_422_and_changes_nothing(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    record = await create_record(client, user_headers)
    before = await row_snapshot()
    for body in INVALID_BODIES:
        response = await client.put(f"{URL}/{record['id']}", json=body, headers=user_headers)
        assert response.status_code == 422, (body, response.text)
    patches: list[Any] = [
        {"minutes": 0},
        {"minutes": 1441},
        {"minutes": "abc"},
        {"subject": ""},
        {"subject": "  "},
        {"title": "t" * 201},
        {"notes": "n" * 10_001},
        {"studied_on": "2023-02-30"},
        {"minutes": None},
        {"subject": None},
        {"notes": None},
        [],
    ]
    for body in patches:
        response = await client.patch(f"{URL}/{record['id']}", json=body, headers=user_headers)
        assert response.status_code == 422, (body, response.text)
    assert await row_snapshot() == before


async def test_delete_answers_the_deleted_record(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    record = await create_record(client, user_headers)
    kept = await create_record(client, user_headers)
    response = await client.delete(f"{URL}/{record['id']}", headers=user_headers)
    assert response.status_code == 200
    assert response.json() == record
    assert (await client.get(f"{URL}/{record['id']}", headers=user_headers)).status_code == 404
    again = await client.delete(f"{URL}/{record['id']}", headers=user_headers)
    assert (again.status_code, again.json()) == (404, NOT_FOUND)
    assert await StudyRecord.all().values_list("id", flat=True) == [kept["id"]]


async def test_delete_all_is_405(
    client: httpx.AsyncClient, user_headers: dict[str, str], superuser_headers: dict[str, str]
) -> None:
    await create_record(client, user_headers)
    for headers in (user_headers, superuser_headers):
        response = await client.delete(URL, headers=headers)
        assert response.status_code == 405
        assert response.json() == {"detail": "Method Not Allowed"}
    assert await StudyRecord.all().count() == 1


# --- list: pages, filters, order --------------------------------------------------------


async def test_list_is_a_page(client: httpx.AsyncClient, user_headers: dict[str, str]) -> None:
    # Same day for all: only the id tie-breaker makes the pages deterministic.
    created = [await create_record(client, user_headers, title=f"t{i}") for i in range(5)]
    pages = []
    for page in (1, 2, 3):
        response = await client.get(URL, params={"page": page, "size": 2}, headers=user_headers)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"items", "total", "page", "size", "pages"}
        assert (body["total"], body["page"], body["size"], body["pages"]) == (5, page, 2, 3)
        pages.append([item["id"] for item in body["items"]])
    assert [len(ids) for ids in pages] == [2, 2, 1]
    newest_first = sorted((r["id"] for r in created), reverse=True)
    assert [i for ids in pages for i in ids] == newest_first
    past_the_end = await client.get(URL, params={"page": 9, "size": 2}, headers=user_headers)
    assert past_the_end.json()["items"] == []
    assert past_the_end.json()["total"] == 5
    # A listed item is exactly what GET of that record answers.
    first = (await client.get(URL, params={"size": 1}, headers=user_headers)).json()["items"][0]
    assert first == (await client.get(f"{URL}/{first['id']}", headers=user_headers)).json()
    assert first == next(r for r in created if r["id"] == first["id"])
    max_size = await client.get(URL, params={"size": 100}, headers=user_headers)
    assert max_size.status_code == 200


async def test_list_filters(client: httpx.AsyncClient, user_headers: dict[str, str]) -> None:
    rows = [
        ("Math", "Linear Algebra", "2024-01-31"),
        ("Math", "calculus: LIMITS", "2024-02-01"),
        ("math", "Algebra basics", "2024-02-02"),
        ("Physics", "Optics 100%", "2024-02-03"),
        ("Physics", "Wave_functions", "2024-02-04"),
        ("Languages", "Café français", "2024-02-05"),
    ]
    ids = {}
    for subject, title, day in rows:
        ids[title] = (
            await create_record(client, user_headers, subject=subject, title=title, studied_on=day)
        )["id"]

    async def titles(**params: str) -> set[str]:
        response = await client.get(URL, params=params, headers=user_headers)
        assert response.status_code == 200, response.text
        return {item["title"] for item in response.json()["items"]}

    assert await titles(subject="Math") == {"Linear Algebra", "calculus: LIMITS"}
    assert await titles(subject="math") == {"Algebra basics"}
    assert await titles(subject="MATH") == set()
    assert await titles(studied_from="2024-02-01", studied_to="2024-02-03") == {
        "calculus: LIMITS",
        "Algebra basics",
        "Optics 100%",
    }
    assert await titles(studied_to="2024-01-31") == {"Linear Algebra"}
    assert await titles(q="ALGEBRA") == {"Linear Algebra", "Algebra basics"}
    assert await titles(q="limits") == {"calculus: LIMITS"}
    assert await titles(q="100%") == {"Optics 100%"}
    assert await titles(q="%") == {"Optics 100%"}  # a literal %, not "anything"
    assert await titles(q="_") == {"Wave_functions"}  # a literal _, not "any character"
    assert await titles(q="café") == {"Café français"}
    assert await titles(q="cafe") == set()  # accents count, on MySQL too
    assert await titles(q="algebra", subject="Math", studied_from="2024-01-01") == {
        "Linear Algebra"
    }
    assert len(await titles(q="", subject="")) == len(rows)  # empty filters filter nothing


async def test_injection_looking_filters_match_nothing_and_change_nothing(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    await create_record(client, user_headers)
    before = await row_snapshot()
    for value in ("' OR 1=1 --", '" OR ""="', "1; DROP TABLE study_record; --", "\\", "%' --"):
        for name in ("q", "subject"):
            response = await client.get(URL, params={name: value}, headers=user_headers)
            assert response.status_code == 200, (name, value)
            assert response.json()["total"] == 0, (name, value)
        for path in ("/cursor", "/export"):
            response = await client.get(URL + path, params={"q": value}, headers=user_headers)
            assert response.status_code == 200
    assert await row_snapshot() == before


@pytest.mark.parametrize(
    "order_by",
    ["studied_on", "-studied_on", "minutes", "-minutes", "created_at", "-created_at", None],
)
async def test_list_order_by(
    client: httpx.AsyncClient, user_headers: dict[str, str], order_by: str | None
) -> None:
    specs = [(30, "2024-01-02"), (10, "2024-01-01"), (30, "2024-01-03"), (20, "2024-01-02")]
    records = [await create_record(client, user_headers, minutes=m, studied_on=d) for m, d in specs]
    key = (order_by or "-studied_on").lstrip("-")
    descending = (order_by or "-studied_on").startswith("-")
    expected = sorted(records, key=lambda r: (r[key], r["id"]), reverse=descending)
    params = {"order_by": order_by} if order_by else {}
    response = await client.get(URL, params=params, headers=user_headers)
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [r["id"] for r in expected]


async def test_invalid_list_parameters_are_422(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    for params in (
        {"size": 101},
        {"size": 0},
        {"page": 0},
        {"page": "x"},
        {"page": 1_000_001},  # an OFFSET past what any database takes
        {"page": 2**64},
        {"order_by": "title"},
        {"order_by": "id; DROP TABLE study_record"},
        {"order_by": "owner_id"},
        {"studied_from": "2023-02-30"},
        {"studied_to": "not-a-date"},
        {"studied_to": "0"},
        {"studied_from": "2.5e-186"},
        {"studied_from": "2024-02-02", "studied_to": "2024-02-01"},
        {"q": "q" * 201},
        {"subject": "s" * 101},
    ):
        response = await client.get(URL, params=params, headers=user_headers)
        assert response.status_code == 422, (params, response.text)
        assert isinstance(response.json()["detail"], list)  # the documented 422 shape
