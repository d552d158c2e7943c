"""The list's total and the stats come from counts and a rollup kept with every write.

Each test ends by comparing the kept rows with an aggregate of the records made from
scratch (tests/fixtures/tally.py), on SQLite, PostgreSQL and MySQL.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError

from app.study import records as records_service
from app.study import tally as kept_tally
from app.study.models import StudyDay, StudyRecord
from tests.conftest import PASSWORD
from tests.fixtures import tally
from tests.study.conftest import URL, create_record, payload, user_id

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


@pytest.mark.parametrize("backend", ["postgres", "mysql"], indirect=True)
@pytest.mark.parametrize("settings_overrides", [{"RATE_LIMIT_WRITE_PER_USER": 10_000}])
async def test_many_mixed_writes_at_once_on_few_days_and_subjects_stay_exact(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    """Rounds of creates, PATCHes, PUTs and deletes at once on one user's few (day,
    subject) rows, many on the same records (moved between days and subjects while another
    request edits or deletes them): no request fails (no deadlock), a reader meanwhile never
    sees a day row without records, and the kept rows end exact."""
    rng = random.Random(24)
    days, subjects = ["2024-03-01", "2024-03-02", "2024-03-03"], ["Go", "go", "Rust"]

    def fields() -> dict[str, Any]:
        return {
            "subject": rng.choice(subjects),
            "studied_on": rng.choice(days),
            "minutes": rng.randint(1, 60),
            "title": "t",
        }

    ids = [(await create_record(client, user_headers, **fields()))["id"] for _ in range(8)]
    seen_empty: list[Any] = []
    writing = True

    async def read_days() -> None:
        while writing:
            seen_empty.extend(await StudyDay.filter(records__lte=0).values())
            await asyncio.sleep(0)

    async def write() -> int:
        kind = rng.choice(("POST", "PATCH", "PUT", "DELETE"))
        if kind == "POST":
            response = await client.post(URL, json=fields(), headers=user_headers)
            if response.status_code == 201:
                ids.append(response.json()["id"])
            return response.status_code
        url = f"{URL}/{rng.choice(ids)}"
        if kind == "DELETE":
            return (await client.delete(url, headers=user_headers)).status_code
        body = fields()
        if kind == "PATCH":
            body = {key: body[key] for key in rng.sample(sorted(body), rng.randint(1, 3))}
        return (await client.request(kind, url, json=body, headers=user_headers)).status_code

    reader = asyncio.create_task(read_days())
    statuses: list[int] = []
    for _ in range(6):
        statuses += await asyncio.gather(*(write() for _ in range(30)))
    writing = False
    await reader
    # 404: a record another request of the round deleted first.
    assert set(statuses) <= {200, 201, 404}, statuses
    assert statuses.count(200) > 50
    assert not seen_empty, seen_empty
    await tally.assert_exact()


def _asyncpg_url(db_url: str) -> str:
    return urlunsplit(urlsplit(db_url)._replace(scheme="postgresql", query=""))


@pytest.fixture
async def outside(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A PostgreSQL connection of its own, beside the app's pool."""
    conn = await asyncpg.connect(_asyncpg_url(db_url))
    try:
        yield conn
    finally:
        await conn.close()


async def _until_a_request_waits_for_a_lock(conn: asyncpg.Connection) -> None:
    """Polls from `conn`, outside any transaction (which would keep reading one snapshot
    of pg_stat_activity)."""
    for _ in range(2_000):
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("no request came to wait for a row lock")


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_an_edit_locks_day_rows_in_tallys_order_whatever_the_collation(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    outside: asyncpg.Connection,
    db_url: str,
) -> None:
    """tally locks day rows sorted as Python sorts strings (code points: "Go" before "go"),
    so an edit that moves a record between two day rows must lock them in that order too,
    or it and a bulk write (create_many) can wait for each other in a circle. Under a
    collation that sorts "go" first (ICU, as most locales do), an edit waiting for the
    "go" row must already hold the "Go" row."""
    conn = Tortoise.get_connection("default")
    await conn.execute_script(
        'ALTER TABLE "study_record" ALTER COLUMN "subject" TYPE VARCHAR(100) COLLATE "und-x-icu"'
    )
    edit = None
    try:
        record = await create_record(client, user_headers, subject="go")
        await create_record(client, user_headers, subject="Go")
        await outside.execute("BEGIN")
        await outside.execute("SELECT 1 FROM study_day WHERE subject = 'go' FOR UPDATE")
        edit = asyncio.create_task(
            client.patch(f"{URL}/{record['id']}", json={"subject": "Go"}, headers=user_headers)
        )
        probe = await asyncpg.connect(_asyncpg_url(db_url))
        try:
            await _until_a_request_waits_for_a_lock(probe)
            with pytest.raises(asyncpg.LockNotAvailableError):
                await probe.execute(
                    "SELECT 1 FROM study_day WHERE subject = 'Go' FOR UPDATE NOWAIT"
                )
        finally:
            await probe.close()
    finally:
        await outside.execute("ROLLBACK")
        if edit is not None:
            assert (await edit).status_code == 200
        await conn.execute_script(
            'ALTER TABLE "study_record" ALTER COLUMN "subject" TYPE VARCHAR(100) COLLATE "default"'
        )
    await tally.assert_exact()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@pytest.mark.parametrize("second", ["PATCH", "DELETE"])
async def test_a_write_that_waited_for_an_edit_counts_the_record_as_the_edit_left_it(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    outside: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    second: str,
) -> None:
    """READ COMMITTED: a PATCH or DELETE that waits for another edit of the same record
    reads the record as that edit committed it (not as its own statement's snapshot had
    it), so it takes the record out of the day and subject it was moved to. The first
    edit is held inside its transaction (at the emptied day's cleanup) until the second
    write waits for the record's lock."""
    record = await create_record(client, user_headers, subject="Go", studied_on="2024-03-01")
    await create_record(client, user_headers, subject="Go", studied_on="2024-03-02")
    holding, go_on = asyncio.Event(), asyncio.Event()
    drop = kept_tally.drop_day_if_empty

    async def held_once(*args: Any) -> None:
        if not holding.is_set():
            holding.set()
            await go_on.wait()
        await drop(*args)

    monkeypatch.setattr(kept_tally, "drop_day_if_empty", held_once)
    url = f"{URL}/{record['id']}"
    first = asyncio.create_task(
        client.patch(url, json={"studied_on": "2024-03-02", "minutes": 7}, headers=user_headers)
    )
    await holding.wait()
    body = {"subject": "Rust"} if second == "PATCH" else None
    then = asyncio.create_task(client.request(second, url, json=body, headers=user_headers))
    await _until_a_request_waits_for_a_lock(outside)
    go_on.set()
    assert (await first).status_code == 200
    response = await then
    assert response.status_code == 200, response.text
    assert (response.json()["studied_on"], response.json()["minutes"]) == ("2024-03-02", 7)
    expected = await tally.assert_exact()
    days = {(day, subject): value for (_, day, subject), value in expected["days"].items()}
    moved = {("2024-03-02", "Rust"): (7, 1)} if second == "PATCH" else {}
    assert days == {("2024-03-02", "Go"): (45, 1), **moved}


async def _delete_account(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.request(
        "DELETE", "/api/v1/users/me", headers=headers, json={"password": PASSWORD}
    )


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_record_added_while_the_account_goes_never_deadlocks_with_it(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    outside: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The account's deletion locks the user's row, then its count; a create for the
    account meanwhile must wait for the user's row before it takes the count's lock (its
    foreign key check comes at the end of its statement, too late), or each waits for the
    other until PostgreSQL aborts one. The deletion is held just after it locked the
    user's row; the create then finds the owner gone (the foreign key's answer)."""
    await create_record(client, user_headers)
    holding, go_on = asyncio.Event(), asyncio.Event()
    drop_records = records_service.delete_owner_records

    async def held(**kwargs: Any) -> None:
        holding.set()
        await go_on.wait()
        await drop_records(**kwargs)

    failures: list[BaseException] = []
    create = records_service.pg_writes.create_row

    async def recorded(*args: Any) -> Any:
        try:
            return await create(*args)
        except Exception as exc:
            failures.append(exc)
            raise

    monkeypatch.setattr(records_service, "delete_owner_records", held)
    monkeypatch.setattr(records_service.pg_writes, "create_row", recorded)
    gone = asyncio.create_task(_delete_account(client, user_headers))
    await holding.wait()
    made = asyncio.create_task(client.post(URL, json=payload(), headers=user_headers))
    await _until_a_request_waits_for_a_lock(outside)
    go_on.set()
    assert (await gone).status_code == 204
    # As on every dialect: the owner is gone, so is the login (not a 500).
    assert (await made).status_code == 401
    assert [type(exc) for exc in failures] == [IntegrityError]
    assert await tally.assert_exact() == {
        "owners": {},
        "total": 0,
        "days": {},
        "subjects": {},
        "runs": [],
    }


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_record_deleted_while_the_account_goes_never_deadlocks_with_it(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    outside: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A record's delete locks the record, then the count; the account's deletion must
    take its records before the count, or it holds the count while the delete holds the
    record and each waits for the other. The deletion is held just after it took the
    account's records out of the total: the delete waits for it, then finds none."""
    record = await create_record(client, user_headers)
    holding, go_on = asyncio.Event(), asyncio.Event()
    drop_counts = kept_tally.delete_owner_records

    async def held(*args: Any) -> None:
        await drop_counts(*args)
        holding.set()
        await go_on.wait()

    monkeypatch.setattr(kept_tally, "delete_owner_records", held)
    gone = asyncio.create_task(_delete_account(client, user_headers))
    await holding.wait()
    deleted = asyncio.create_task(client.delete(f"{URL}/{record['id']}", headers=user_headers))
    await _until_a_request_waits_for_a_lock(outside)
    go_on.set()
    assert (await gone).status_code == 204
    assert (await deleted).status_code == 404
    assert await tally.assert_exact() == {
        "owners": {},
        "total": 0,
        "days": {},
        "subjects": {},
        "runs": [],
    }
