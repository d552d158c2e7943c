"""GET /api/v1/audit-logs and /audit-logs/{id}: superuser only, newest first, filtered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from tortoise.transactions import in_transaction

from app.audit import service
from app.audit.models import AuditLog
from app.audit.schemas import AuditLogFilters

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects

USER_1 = uuid.UUID("11111111-1111-4111-8111-111111111111")
USER_2 = uuid.UUID("22222222-2222-4222-8222-222222222222")
ENTRY_FIELDS = {
    "id",
    "created_at",
    "request_id",
    "method",
    "path",
    "route",
    "query",
    "status_code",
    "duration_ms",
    "client_ip",
    "user_agent",
    "user_id",
    "response_bytes",
}
CURSOR_URL = "/api/v1/audit-logs/cursor"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Nothing is written unless a test flushes: the table holds only the seeded entries.
    return {"AUDIT_FLUSH_INTERVAL_MS": 60_000}


def at(day: int) -> datetime:
    return datetime(2026, 1, day, tzinfo=UTC)


@pytest.fixture
async def seeded() -> list[AuditLog]:
    """Four entries, oldest first, one per day from 2026-01-01."""
    rows = [
        ("GET", "/api/v1/study-records", 200, USER_1),
        ("POST", "/api/v1/study-records", 201, USER_1),
        ("GET", "/api/v1/users/me", 401, None),
        ("GET", "/api/v1/study-records/5", 404, USER_2),
    ]
    await AuditLog.bulk_create(
        [
            AuditLog(
                created_at=at(day),
                request_id=f"seed-{day}",
                method=method,
                path=path,
                route=None,
                query="",
                status_code=status,
                duration_ms=1.5,
                client_ip="192.0.2.1",
                user_agent="seed",
                user_id=user,
                response_bytes=10,
            )
            for day, (method, path, status, user) in enumerate(rows, start=1)
        ]
    )
    return await AuditLog.all().order_by("created_at")


async def test_audit_logs_need_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/audit-logs")).status_code == 401
    assert (await client.get("/api/v1/audit-logs/1")).status_code == 401


async def test_audit_logs_are_403_for_other_users(
    client: httpx.AsyncClient, user_headers: dict[str, str], seeded: list[AuditLog]
) -> None:
    listed = await client.get("/api/v1/audit-logs", headers=user_headers)
    assert listed.status_code == 403
    assert listed.json() == {"detail": "Forbidden"}
    one = await client.get(f"/api/v1/audit-logs/{seeded[0].id}", headers=user_headers)
    assert one.status_code == 403


async def test_list_is_a_page_of_entries_newest_first(
    client: httpx.AsyncClient, superuser_headers: dict[str, str], seeded: list[AuditLog]
) -> None:
    assert [e.request_id for e in seeded] == ["seed-1", "seed-2", "seed-3", "seed-4"]
    response = await client.get("/api/v1/audit-logs?page=1&size=3", headers=superuser_headers)
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page"], body["size"], body["pages"]) == (4, 1, 3, 2)
    assert [item["request_id"] for item in body["items"]] == ["seed-4", "seed-3", "seed-2"]
    first = body["items"][0]
    assert set(first) == ENTRY_FIELDS
    assert datetime.fromisoformat(first["created_at"]) == at(4)
    assert first["user_id"] == str(USER_2)

    second = await client.get("/api/v1/audit-logs?page=2&size=3", headers=superuser_headers)
    assert [item["request_id"] for item in second.json()["items"]] == ["seed-1"]


FILTER_CASES = [
    (f"user_id={USER_1}", [2, 1]),
    ("method=post", [2]),
    ("status_code=401", [3]),
    ("path_prefix=/api/v1/study-records", [4, 2, 1]),
    ("since=2026-01-02T00:00:00Z", [4, 3, 2]),
    ("until=2026-01-03T00:00:00%2B00:00", [2, 1]),
    ("since=2026-01-02T00:00:00Z&until=2026-01-04T00:00:00Z", [3, 2]),
    ("since=2026-01-03T00:00:00", [4, 3]),  # no zone: UTC
    ("method=GET&path_prefix=/api/v1/study-records&status_code=404", [4]),
    # The prefix is matched exactly: case counts, and LIKE's and GLOB's wildcards are text.
    ("path_prefix=/API/v1", []),
    ("path_prefix=/api/v1/study_records", []),
    ("path_prefix=/api/v1/study%25", []),
    ("path_prefix=/api/v1/*", []),
    ("path_prefix=/api/v1/users/me", [3]),
]


async def test_list_filters(
    client: httpx.AsyncClient, superuser_headers: dict[str, str], seeded: list[AuditLog]
) -> None:
    assert len(seeded) == 4
    for query, days in FILTER_CASES:
        response = await client.get(f"/api/v1/audit-logs?{query}", headers=superuser_headers)
        assert response.status_code == 200, (query, response.text)
        found = [item["request_id"] for item in response.json()["items"]]
        assert found == [f"seed-{day}" for day in days], query


async def test_malformed_filters_are_422(
    client: httpx.AsyncClient, superuser_headers: dict[str, str]
) -> None:
    for query in (
        "status_code=99",
        "since=yesterday",
        "until=0.5",  # a number is not a time (found by the fuzzer)
        "user_id=not-a-uuid",
        "size=101",
    ):
        response = await client.get(f"/api/v1/audit-logs?{query}", headers=superuser_headers)
        assert response.status_code == 422, query
        assert "detail" in response.json()


async def test_get_one_entry(
    client: httpx.AsyncClient, superuser_headers: dict[str, str], seeded: list[AuditLog]
) -> None:
    entry = seeded[1]
    response = await client.get(f"/api/v1/audit-logs/{entry.id}", headers=superuser_headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == ENTRY_FIELDS
    assert body["id"] == entry.id
    assert body["method"] == "POST"
    assert body["status_code"] == 201
    assert body["user_id"] == str(USER_1)


async def test_unknown_entry_is_404(
    client: httpx.AsyncClient, superuser_headers: dict[str, str], seeded: list[AuditLog]
) -> None:
    unknown = max(e.id for e in seeded) + 1000
    response = await client.get(f"/api/v1/audit-logs/{unknown}", headers=superuser_headers)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


async def test_malformed_or_huge_id_is_422(
    client: httpx.AsyncClient, superuser_headers: dict[str, str]
) -> None:
    for bad_id in ("abc", "0", "-1", "1.5", str(2**63), str(10**40)):
        response = await client.get(f"/api/v1/audit-logs/{bad_id}", headers=superuser_headers)
        assert response.status_code == 422, bad_id


async def _entries(count: int, *, route: str | None = None) -> list[AuditLog]:
    """`count` entries, three to a second (ties in time that only the id orders)."""
    await AuditLog.bulk_create(
        [
            AuditLog(
                created_at=datetime(2026, 2, 1, 0, 0, n // 3, tzinfo=UTC),
                request_id=f"many-{n}",
                method="GET",
                path=f"/api/v1/study-records/{n}",
                route=route,
                query="",
                status_code=200,
                duration_ms=1.0,
                client_ip=None,
                user_agent=None,
                user_id=None,
                response_bytes=1,
            )
            for n in range(count)
        ]
    )
    return list(await AuditLog.all().order_by("-created_at", "-id"))


async def test_route_filter_is_the_exact_template(
    client: httpx.AsyncClient, superuser_headers: dict[str, str]
) -> None:
    await _entries(2, route="/api/v1/study-records/{item_id}")
    await _entries(1, route="/api/v1/study-records")
    for route, expected in (
        ("/api/v1/study-records/{item_id}", 2),
        ("/api/v1/study-records", 1),
        ("/api/v1/study", 0),
    ):
        response = await client.get(
            "/api/v1/audit-logs", params={"route": route}, headers=superuser_headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["total"] == expected, route


async def test_times_no_database_stores_are_422_not_500(
    client: httpx.AsyncClient, superuser_headers: dict[str, str]
) -> None:
    for bound in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"):
        for name in ("since", "until"):
            for url in ("/api/v1/audit-logs", CURSOR_URL):
                response = await client.get(url, params={name: bound}, headers=superuser_headers)
                assert response.status_code == 422, (url, name, bound, response.text)
                assert response.json()["detail"][0]["loc"] == ["query", name]
    edge = await client.get(
        "/api/v1/audit-logs", params={"since": "0001-01-01T00:00:00Z"}, headers=superuser_headers
    )
    assert edge.status_code == 200, edge.text


async def test_the_total_is_capped_and_pages_end_at_the_cap(
    client: httpx.AsyncClient, superuser_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "TOTAL_CAP", 20)
    await _entries(25)

    def get(**params: Any) -> Any:
        return client.get("/api/v1/audit-logs", params=params, headers=superuser_headers)

    capped = (await get(page=1, size=10)).json()
    assert (capped["total"], capped["pages"], capped["total_capped"]) == (20, 2, True)
    last = await get(page=2, size=10)
    assert last.status_code == 200
    assert len(last.json()["items"]) == 10
    beyond = await get(page=3, size=10)
    assert beyond.status_code == 422
    assert beyond.json()["detail"][0]["loc"] == ["query", "page"]
    assert CURSOR_URL in beyond.json()["detail"][0]["msg"]
    exact = (await get(page=1, size=10, method="POST")).json()
    assert (exact["total"], exact["total_capped"]) == (0, False)
    under = (await get(page=1, size=100, path_prefix="/api/v1/study-records/1")).json()
    # 1 and 10 to 19: eleven matches, under the cap, counted exactly.
    assert (under["total"], under["total_capped"]) == (11, False)


async def test_a_cursor_walk_returns_every_entry_once_newest_first_and_back(
    client: httpx.AsyncClient, superuser_headers: dict[str, str]
) -> None:
    expected = [entry.request_id for entry in await _entries(23)]
    seen: list[str] = []
    cursor: str | None = None
    pages = []
    while True:
        params: dict[str, Any] = {"size": 4}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(CURSOR_URL, params=params, headers=superuser_headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "total" not in body
        pages.append(body)
        seen += [item["request_id"] for item in body["items"]]
        cursor = body["next_page"]
        if cursor is None:
            break
    assert seen == expected
    assert pages[0]["previous_page"] is None
    # Back from the last page: the one before it, the same entries.
    back = await client.get(
        CURSOR_URL,
        params={"size": 4, "cursor": pages[-1]["previous_page"]},
        headers=superuser_headers,
    )
    assert [i["request_id"] for i in back.json()["items"]] == [
        i["request_id"] for i in pages[-2]["items"]
    ]


async def test_a_filtered_cursor_walk_keeps_the_filter(
    client: httpx.AsyncClient, superuser_headers: dict[str, str], seeded: list[AuditLog]
) -> None:
    assert len(seeded) == 4
    params = {"size": 1, "path_prefix": "/api/v1/study-records"}
    found = []
    while True:
        body = (await client.get(CURSOR_URL, params=params, headers=superuser_headers)).json()
        found += [item["request_id"] for item in body["items"]]
        if body["next_page"] is None:
            break
        params["cursor"] = body["next_page"]
    assert found == ["seed-4", "seed-2", "seed-1"]


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "WyJmIiwgIjIwMjYtMDItMDFUMDA6MDA6MDArMDA6MDAiLCAwXQ==",  # ["f", "...", 0]
        "WyJ4IiwgIjIwMjYtMDItMDFUMDA6MDA6MDArMDA6MDAiLCAxXQ==",  # direction "x"
        "WyJmIiwgIjIwMjYtMDItMDFUMDA6MDA6MDAiLCAxXQ==",  # a time without a zone
        "WyJmIiwgIjIwMjYtMDItMDFUMDA6MDA6MDArMDA6MDAiLCB0cnVlXQ==",  # an id that is true
        "A" * 600,
    ],
)
async def test_a_cursor_the_api_did_not_make_is_422(
    client: httpx.AsyncClient, superuser_headers: dict[str, str], cursor: str
) -> None:
    response = await client.get(CURSOR_URL, params={"cursor": cursor}, headers=superuser_headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


async def test_the_cursor_route_is_for_superusers(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    assert (await client.get(CURSOR_URL)).status_code == 401
    assert (await client.get(CURSOR_URL, headers=user_headers)).status_code == 403


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_the_path_prefix_filter_can_seek_on_an_index(client: httpx.AsyncClient) -> None:
    """No CAST around the column: PostgreSQL plans the prefix on the text_pattern_ops index
    (with sequential scans priced out, so the plan shows what the index can serve)."""
    del client  # asked for so that the app, and its database connection, are up
    selection = service.matching(AuditLogFilters(path_prefix="/api/v1/study"))
    async with in_transaction() as tx:
        await tx.execute_script("SET LOCAL enable_seqscan = off")
        _, plan = await tx.execute_query(f"EXPLAIN {selection.sql(params_inline=True)}")
    text = "\n".join(row["QUERY PLAN"] for row in plan)
    assert "idx_audit_log_path_prefix" in text, text
