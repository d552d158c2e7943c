"""The list's total and the stats come from counts and a rollup kept with every write.

Each test ends by comparing the kept rows with an aggregate of the records made from
scratch (tests/fixtures/tally.py), on SQLite, PostgreSQL and MySQL.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest

from app.study.models import StudyRecord
from tests.conftest import PASSWORD
from tests.fixtures import tally
from tests.study.conftest import URL, create_record, user_id

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects


async def _total(client: httpx.AsyncClient, headers: dict[str, str], **params: str) -> int:
    response = await client.get(URL, params={"size": "1", **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["total"]


async def test_unfiltered_total_is_the_kept_count_not_a_scan(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    for _ in range(3):
        await create_record(client, user_headers)
    assert await _total(client, user_headers) == 3
    # A row written behind the service's back is not counted by the unfiltered total,
    # which proves it reads the kept count; a filtered total still counts rows.
    await StudyRecord.create(
        owner_id=await user_id(client, user_headers),
        subject="Mathematics",
        title="behind the back",
        minutes=5,
        studied_on=date(2024, 3, 1),
    )
    assert await _total(client, user_headers) == 3
    assert await _total(client, user_headers, subject="Mathematics") == 4


async def test_superuser_total_is_every_users_records(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_user_headers: dict[str, str],
    superuser_headers: dict[str, str],
) -> None:
    for headers, count in ((user_headers, 2), (other_user_headers, 3)):
        for _ in range(count):
            await create_record(client, headers)
    assert await _total(client, superuser_headers) == 5
    assert (await tally.assert_exact())["total"] == 5


async def test_creates_edits_and_deletes_keep_counts_and_rollup_exact(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    a = await create_record(client, user_headers, subject="Math", minutes=30)
    b = await create_record(client, user_headers, subject="math", minutes=20)  # another subject
    c = await create_record(client, user_headers, subject="Mathé", minutes=10)
    await create_record(client, other_user_headers, subject="Math", minutes=5)
    await tally.assert_exact()

    edits = [
        ("PATCH", a["id"], {"minutes": 45}),  # same day and subject, other minutes
        ("PATCH", a["id"], {"studied_on": "2024-02-29"}),  # another day
        ("PATCH", b["id"], {"subject": "Math"}),  # merges into another subject's row
        ("PATCH", b["id"], {"title": "only the title"}),  # nothing counted changes
        ("PUT", c["id"], {"subject": "Physics", "title": "t", "minutes": 7}),  # defaults day
    ]
    for method, record_id, body in edits:
        response = await client.request(
            method, f"{URL}/{record_id}", json=body, headers=user_headers
        )
        assert response.status_code == 200, response.text
        await tally.assert_exact()

    assert (await client.delete(f"{URL}/{a['id']}", headers=user_headers)).status_code == 200
    expected = await tally.assert_exact()
    assert expected["total"] == 3
    assert await _total(client, user_headers) == 2


async def test_stats_follow_records_moved_to_another_day_and_subject(
    client: httpx.AsyncClient, user_headers: dict[str, str], set_today: object
) -> None:
    del set_today  # the app's today is 2024-03-15
    first = await create_record(
        client, user_headers, subject="Go", minutes=30, studied_on="2024-03-13"
    )
    await create_record(client, user_headers, subject="Go", minutes=15, studied_on="2024-03-14")
    await create_record(client, user_headers, subject="Rust", minutes=20, studied_on="2024-03-15")

    async def stats() -> dict[str, object]:
        response = await client.get(f"{URL}/stats", headers=user_headers)
        assert response.status_code == 200, response.text
        return response.json()

    before = await stats()
    assert before["by_subject"] == [
        {"subject": "Go", "minutes": 45, "records": 2},
        {"subject": "Rust", "minutes": 20, "records": 1},
    ]
    assert (before["longest_streak_days"], before["current_streak_days"]) == (3, 3)

    patched = await client.patch(
        f"{URL}/{first['id']}",
        json={"studied_on": "2024-03-10", "subject": "Rust", "minutes": 50},
        headers=user_headers,
    )
    assert patched.status_code == 200, patched.text
    after = await stats()
    assert after["by_subject"] == [
        {"subject": "Rust", "minutes": 70, "records": 2},
        {"subject": "Go", "minutes": 15, "records": 1},
    ]
    assert after["by_day"] == [
        {"date": "2024-03-10", "minutes": 50},
        {"date": "2024-03-14", "minutes": 15},
        {"date": "2024-03-15", "minutes": 20},
    ]
    assert (after["total_minutes"], after["record_count"]) == (85, 3)
    assert (after["longest_streak_days"], after["current_streak_days"]) == (2, 2)

    assert (await client.delete(f"{URL}/{first['id']}", headers=user_headers)).status_code == 200
    gone = await stats()
    assert gone["by_day"] == [
        {"date": "2024-03-14", "minutes": 15},
        {"date": "2024-03-15", "minutes": 20},
    ]
    assert (gone["total_minutes"], gone["record_count"]) == (35, 2)
    await tally.assert_exact()


async def test_concurrent_writes_for_one_user_leave_exact_counts(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    """Many creates, edits and deletes at once on one user's same day and subject (the
    rows every writer has to change): on PostgreSQL and MySQL they run on separate pool
    connections, so the upserts' row locks are what keeps the numbers exact."""
    seed = [await create_record(client, user_headers, minutes=10) for _ in range(6)]

    async def create() -> int:
        response = await client.post(
            URL, json={"subject": "Mathematics", "title": "t", "minutes": 3}, headers=user_headers
        )
        return response.status_code

    async def patch(record_id: int, minutes: int) -> int:
        response = await client.patch(
            f"{URL}/{record_id}",
            json={"minutes": minutes, "studied_on": "2024-03-02"},
            headers=user_headers,
        )
        return response.status_code

    async def delete(record_id: int) -> int:
        return (await client.delete(f"{URL}/{record_id}", headers=user_headers)).status_code

    statuses = await asyncio.gather(
        *(create() for _ in range(12)),
        *(patch(record["id"], 20 + i) for i, record in enumerate(seed[:3])),
        # The same record deleted twice at once: one wins, the other finds it gone.
        delete(seed[3]["id"]),
        delete(seed[3]["id"]),
        delete(seed[4]["id"]),
    )
    assert statuses.count(201) == 12
    assert sorted(statuses[12:]) == [200, 200, 200, 200, 200, 404]
    expected = await tally.assert_exact()
    assert expected["total"] == 6 + 12 - 2
    assert await _total(client, user_headers) == 16


async def test_account_deletion_takes_its_records_out_of_the_total(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_user_headers: dict[str, str],
    superuser_headers: dict[str, str],
) -> None:
    for _ in range(3):
        await create_record(client, user_headers)
    await create_record(client, other_user_headers)
    assert await _total(client, superuser_headers) == 4

    response = await client.request(
        "DELETE", "/api/v1/users/me", headers=user_headers, json={"password": PASSWORD}
    )
    assert response.status_code == 204, response.text
    assert await _total(client, superuser_headers) == 1
    expected = await tally.assert_exact()
    assert list(expected["owners"].values()) == [1]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_postgres_writes_a_record_and_its_counts_in_one_statement(
    client: httpx.AsyncClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A create onto a day and subject that have records is one statement and no
    transaction; the first of its day and subject is tried so, refused by the statement
    itself, then written in a transaction with the runs' statements. An edit and a delete
    are one statement each inside BEGIN/COMMIT, plus the runs' statements when a day gains
    its first record or loses its last, and the emptied subject and day rows' deletes.
    Counted at the driver: every statement asyncpg sends."""
    sent: list[str] = []
    for name in ("execute", "fetch"):
        original = getattr(asyncpg.Connection, name)

        def counting(self: Any, query: str, *args: Any, _sent: Any = original, **kw: Any) -> Any:
            sent.append(query.split(None, 1)[0].upper())
            return _sent(self, query, *args, **kw)

        monkeypatch.setattr(asyncpg.Connection, name, counting)

    a = await create_record(client, user_headers, subject="Go", minutes=30)
    # The request's other statements (the session's lookup) are not the write's.
    writes = {"WITH", "INSERT", "UPDATE", "DELETE", "BEGIN;", "COMMIT;"}
    # Its day's first record: the one-statement try is refused (and rolled back), then the
    # write and its run (looked for with a SELECT, then started) in one transaction.
    assert [q for q in sent if q in writes] == ["WITH", "BEGIN;", "WITH", "INSERT", "COMMIT;"]
    sent.clear()
    b = await create_record(client, user_headers, subject="Go", minutes=10)
    assert [q for q in sent if q in writes] == ["WITH"], sent
    sent.clear()
    patched = await client.patch(f"{URL}/{a['id']}", json={"minutes": 45}, headers=user_headers)
    assert patched.status_code == 200, patched.text
    assert [q for q in sent if q not in {"SELECT"}] == ["BEGIN;", "WITH", "COMMIT;"], sent
    sent.clear()
    # b leaves its day and subject rows with a record (a's); a then empties both, and the
    # day's run goes.
    assert (await client.delete(f"{URL}/{b['id']}", headers=user_headers)).status_code == 200
    assert [q for q in sent if q not in {"SELECT"}] == ["BEGIN;", "WITH", "COMMIT;"], sent
    sent.clear()
    assert (await client.delete(f"{URL}/{a['id']}", headers=user_headers)).status_code == 200
    assert [q for q in sent if q not in {"SELECT"}] == [
        "BEGIN;",
        "WITH",
        "DELETE",
        "DELETE",
        "DELETE",
        "COMMIT;",
    ], sent
    await tally.assert_exact()
