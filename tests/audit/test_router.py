"""GET /api/v1/audit-logs and /audit-logs/{id}: superuser only, newest first, filtered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.audit.models import AuditLog

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
