"""The runs of consecutive days (the streaks) and the per-subject totals kept with every
write: each test compares the kept rows with a from-scratch aggregate of the records
(tests/fixtures/tally.py), and the stats with values computed here in plain Python."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from tortoise.transactions import in_transaction

from app.study import tally as tally_module
from app.study.models import StudyRecord, StudyRun
from app.study.tally import Delta
from tests.fixtures import tally
from tests.study.conftest import URL, Row, create_record, expected_stats, user_id

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects


def day(n: int) -> str:
    """March `n`, 2024 (0 is February 29)."""
    return (date(2024, 3, 1) + timedelta(days=n - 1)).isoformat()


async def runs(owner_id: uuid.UUID) -> list[tuple[str, str, int]]:
    """The user's kept runs, oldest first, after checking every kept row is exact."""
    await tally.assert_exact()
    rows = (
        await StudyRun.filter(owner_id=owner_id)
        .order_by("first_day")
        .values_list("first_day", "last_day", "length")
    )
    return [(first.isoformat(), last.isoformat(), int(length)) for first, last, length in rows]


async def delete(client: httpx.AsyncClient, headers: dict[str, str], record_id: int) -> None:
    response = await client.delete(f"{URL}/{record_id}", headers=headers)
    assert response.status_code == 200, response.text


async def patch(
    client: httpx.AsyncClient, headers: dict[str, str], record_id: int, **body: Any
) -> None:
    response = await client.patch(f"{URL}/{record_id}", json=body, headers=headers)
    assert response.status_code == 200, response.text


async def test_deleting_a_day_splits_or_shrinks_its_run(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    owner = await user_id(client, user_headers)
    ids = {
        n: (await create_record(client, user_headers, studied_on=day(n)))["id"] for n in range(1, 6)
    }
    assert await runs(owner) == [(day(1), day(5), 5)]
    await delete(client, user_headers, ids[3])  # the middle: two runs
    assert await runs(owner) == [(day(1), day(2), 2), (day(4), day(5), 2)]
    await delete(client, user_headers, ids[1])  # a first day
    assert await runs(owner) == [(day(2), day(2), 1), (day(4), day(5), 2)]
    await delete(client, user_headers, ids[5])  # a last day
    assert await runs(owner) == [(day(2), day(2), 1), (day(4), day(4), 1)]
    await delete(client, user_headers, ids[2])  # a run of one day
    assert await runs(owner) == [(day(4), day(4), 1)]


async def test_a_record_on_the_day_between_two_runs_merges_them(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    owner = await user_id(client, user_headers)
    for n in (1, 2, 4, 5):
        await create_record(client, user_headers, studied_on=day(n))
    assert await runs(owner) == [(day(1), day(2), 2), (day(4), day(5), 2)]
    await create_record(client, user_headers, studied_on=day(3))
    assert await runs(owner) == [(day(1), day(5), 5)]
    await create_record(client, user_headers, studied_on=day(0))  # Feb 29: joins at the start
    await create_record(client, user_headers, studied_on=day(6))  # joins at the end
    await create_record(client, user_headers, studied_on=day(9))  # a run of its own
    assert await runs(owner) == [(day(0), day(6), 7), (day(9), day(9), 1)]


async def test_a_day_keeps_its_run_while_it_has_a_record_left(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    owner = await user_id(client, user_headers)
    await create_record(client, user_headers, studied_on=day(1))
    same = await create_record(client, user_headers, studied_on=day(2), subject="Go")
    other = await create_record(client, user_headers, studied_on=day(2), subject="Rust")
    await create_record(client, user_headers, studied_on=day(2), subject="Go")
    await create_record(client, user_headers, studied_on=day(3))
    await delete(client, user_headers, same["id"])
    await patch(client, user_headers, other["id"], subject="Art")  # same day, other subject
    assert await runs(owner) == [(day(1), day(3), 3)]


async def test_moving_a_record_to_another_day_splits_one_run_and_joins_another(
    client: httpx.AsyncClient, user_headers: dict[str, str], set_today: Callable[[date], None]
) -> None:
    set_today(date(2024, 3, 5))
    owner = await user_id(client, user_headers)
    ids = {
        n: (await create_record(client, user_headers, studied_on=day(n)))["id"]
        for n in (1, 2, 3, 5)
    }
    assert await runs(owner) == [(day(1), day(3), 3), (day(5), day(5), 1)]
    await patch(client, user_headers, ids[2], studied_on=day(4))  # leaves 2, fills 4
    assert await runs(owner) == [(day(1), day(1), 1), (day(3), day(5), 3)]
    response = await client.get(f"{URL}/stats", headers=user_headers)
    assert (response.json()["longest_streak_days"], response.json()["current_streak_days"]) == (
        3,
        3,
    )
    await patch(client, user_headers, ids[2], studied_on=day(2), minutes=5)  # and back
    assert await runs(owner) == [(day(1), day(3), 3), (day(5), day(5), 1)]
    body = {"subject": "Go", "title": "t", "minutes": 9, "studied_on": day(30)}
    replaced = await client.put(f"{URL}/{ids[5]}", json=body, headers=user_headers)
    assert replaced.status_code == 200, replaced.text
    assert await runs(owner) == [(day(1), day(3), 3), (day(30), day(30), 1)]


TODAY = date(2024, 3, 15)
SUBJECTS = ("Go", "go", "Rust")


async def _assert_stats_from_scratch(
    client: httpx.AsyncClient, headers: dict[str, str], owner_id: uuid.UUID
) -> None:
    """The user's stats, without a range and over the last week, equal a computation in
    Python over its records as stored."""
    rows = await StudyRecord.filter(owner_id=owner_id).values_list(
        "subject", "minutes", "studied_on"
    )
    records: list[Row] = [(subject, int(minutes), day) for subject, minutes, day in rows]
    whole = await client.get(f"{URL}/stats", headers=headers)
    expected = expected_stats(records, TODAY)
    # by_day alone is the window up to today.
    expected["by_day"] = expected_stats(records, TODAY, TODAY - timedelta(days=365), TODAY)[
        "by_day"
    ]
    assert whole.json() == expected
    week = TODAY - timedelta(days=6)
    params = {"studied_from": week.isoformat(), "studied_to": TODAY.isoformat()}
    ranged = await client.get(f"{URL}/stats", params=params, headers=headers)
    assert ranged.json() == expected_stats(records, TODAY, week, TODAY)


async def _random_write(
    client: httpx.AsyncClient, headers: dict[str, str], mine: list[int], rng: random.Random
) -> None:
    """A create, an edit (of the day, the subject or the minutes and day) or a delete of
    one of `mine` (the user's record ids, kept up to date), on a day from two days ahead to
    nineteen back."""

    def a_day() -> str:
        return (TODAY - timedelta(days=rng.randrange(-2, 20))).isoformat()

    action = rng.choice(("create", "create", "patch", "delete")) if mine else "create"
    if action == "create":
        created = await create_record(
            client,
            headers,
            studied_on=a_day(),
            subject=rng.choice(SUBJECTS),
            minutes=rng.randrange(1, 120),
        )
        mine.append(created["id"])
    elif action == "patch":
        changes = rng.choice(
            (
                {"studied_on": a_day()},
                {"subject": rng.choice(SUBJECTS)},
                {"minutes": rng.randrange(1, 120), "studied_on": a_day()},
            )
        )
        await patch(client, headers, rng.choice(mine), **changes)
    else:
        await delete(client, headers, mine.pop(rng.randrange(len(mine))))


async def test_random_writes_keep_the_stats_equal_to_a_computation_from_scratch(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_user_headers: dict[str, str],
    set_today: Callable[[date], None],
) -> None:
    """Creates, edits and deletes at random over three weeks, by two users, in subjects
    differing in case: after every few writes the kept rows equal an aggregate of the
    records, and the stats (with and without a range) a computation in Python."""
    set_today(TODAY)
    rng = random.Random(20241206)
    users = [user_headers, other_user_headers]
    owners = [await user_id(client, headers) for headers in users]
    records: list[list[int]] = [[], []]  # each user's record ids
    for step in range(90):
        who = rng.randrange(2)
        await _random_write(client, users[who], records[who], rng)
        if step % 6 == 5:
            await tally.assert_exact()
            for headers, owner in zip(users, owners, strict=True):
                await _assert_stats_from_scratch(client, headers, owner)


@pytest.mark.parametrize("backend", ["postgres", "mysql"], indirect=True)
async def test_concurrent_writes_on_neighbouring_days_keep_the_runs_exact(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    """Two users' creates, deletes and moves between days, all at once, on days next to
    each other (each one may merge or split the runs another is changing): on PostgreSQL
    and MySQL they run on separate pool connections, so the user's count row lock is what
    keeps the runs exact."""
    seeded = {}
    for headers in (user_headers, other_user_headers):
        for n in range(1, 13, 2):  # every other day: six runs of one day
            seeded[(id(headers), n)] = (await create_record(client, headers, studied_on=day(n)))[
                "id"
            ]

    async def status(method: str, path: str, headers: dict[str, str], **body: Any) -> int:
        response = await client.request(method, path, headers=headers, json=body or None)
        return response.status_code

    writes = []
    for headers in (user_headers, other_user_headers):
        writes += [status("POST", URL, headers, **_body(day(n))) for n in range(2, 13, 2)]
        writes += [status("DELETE", f"{URL}/{seeded[(id(headers), n)]}", headers) for n in (3, 7)]
        writes += [
            status("PATCH", f"{URL}/{seeded[(id(headers), n)]}", headers, studied_on=day(n + 13))
            for n in (5, 9)
        ]
    statuses = await asyncio.gather(*writes)
    assert sorted(statuses) == [200] * 8 + [201] * 12
    await tally.assert_exact()
    for headers in (user_headers, other_user_headers):
        # Of days 1-12, 3 and 7 were deleted, 5 and 9 moved to 18 and 22.
        assert await runs(await user_id(client, headers)) == [
            (day(1), day(2), 2),
            (day(4), day(4), 1),
            (day(6), day(6), 1),
            (day(8), day(8), 1),
            (day(10), day(12), 3),
            (day(18), day(18), 1),
            (day(22), day(22), 1),
        ]


@pytest.mark.parametrize("backend", ["postgres", "mysql"], indirect=True)
async def test_a_write_sees_the_runs_committed_after_its_transaction_began(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    """A transaction that read before it counts (a bulk insert counting its second owner
    after its first) still reads the runs another writer committed meanwhile: each
    statement reads committed rows, on MySQL too (its sessions are set to READ COMMITTED;
    under its default REPEATABLE READ the first read's snapshot would hide them)."""
    owner = await user_id(client, user_headers)
    await create_record(client, user_headers, studied_on=day(1))
    has_read, other_committed = asyncio.Event(), asyncio.Event()

    async def slow_writer() -> None:
        async with in_transaction() as conn:
            assert await StudyRun.filter(owner_id=owner).using_db(conn).count() == 1
            has_read.set()
            await other_committed.wait()
            record = await StudyRecord.create(
                owner_id=owner, subject="Go", title="t", minutes=5, studied_on=date(2024, 3, 3)
            )
            delta = Delta(owner)
            delta.add(studied_on=record.studied_on, subject=record.subject, minutes=5)
            await delta.apply(conn)

    writer = asyncio.create_task(slow_writer())
    await has_read.wait()
    await create_record(client, user_headers, studied_on=day(2))  # its own transaction
    other_committed.set()
    await writer
    assert await runs(owner) == [(day(1), day(3), 3)]


def _body(studied_on: str) -> dict[str, Any]:
    return {"subject": "Go", "title": "t", "minutes": 10, "studied_on": studied_on}


@pytest.mark.parametrize("backend", ["postgres", "mysql"], indirect=True)
async def test_a_create_racing_the_delete_of_its_days_last_record_keeps_the_runs_exact(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    """A create onto a day and subject that have one record, at the same time as that
    record's delete: whichever commits first, the day ends with the new record and its run.
    (On PostgreSQL such a create is one statement that may have seen the day row before the
    delete emptied it; it then refuses itself and is written again with the runs.)"""
    owner = await user_id(client, user_headers)
    for n in range(12):
        studied_on = day(40 + 2 * n)  # days apart: a run of one day each
        last = await create_record(client, user_headers, subject="Go", studied_on=studied_on)
        created, deleted = await asyncio.gather(
            client.post(URL, json=_body(studied_on), headers=user_headers),
            client.delete(f"{URL}/{last['id']}", headers=user_headers),
        )
        assert (created.status_code, deleted.status_code) == (201, 200), created.text
    await tally.assert_exact()
    assert [length for _, _, length in await runs(owner)] == [1] * 12


async def test_a_bulk_write_locks_in_one_writes_order_across_its_users(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """create_many's kept rows: every user's count first, then the total's slots in slot
    order (each once), then subject and day rows, as a single write locks count, slot,
    subject, days; one user after the other, a bulk write holding a slot could wait for a
    single write's count while that write waits for the slot."""
    owners = sorted(uuid.uuid4() for _ in range(40))
    deltas = []
    for owner in owners:
        delta = Delta(owner)
        delta.add(studied_on=date(2024, 3, 1), subject="Go", minutes=10)
        deltas.append(delta)
    sent: list[str] = []

    class Recording:
        capabilities = type("Capabilities", (), {"dialect": "postgres"})()

        async def execute_query(self, sql: str, values: list[Any]) -> tuple[int, list[Any]]:
            table = sql.split('"', 2)[1]
            sent.append(f"{table}:{values[0]}" if table == "study_record_total" else table)
            return 0, []

    monkeypatch.setattr(tally_module, "keep_runs", _no_runs)
    await tally_module.apply_together(Recording(), list(reversed(deltas)))  # type: ignore[arg-type]
    kinds = [entry.split(":")[0] for entry in sent]
    last_count = max(i for i, kind in enumerate(kinds) if kind == "study_record_count")
    first_slot = kinds.index("study_record_total")
    assert kinds.count("study_record_count") == len(owners)
    assert last_count < first_slot
    slots = [int(entry.split(":")[1]) for entry in sent if entry.startswith("study_record_total")]
    assert slots == sorted(set(slots))
    assert max(i for i, kind in enumerate(kinds) if kind == "study_record_total") < kinds.index(
        "study_subject"
    )


async def _no_runs(*args: Any) -> None:
    del args
