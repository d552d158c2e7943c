"""The study domain without HTTP, as the admin CLI uses it."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from app.study import formats, pages, records, stats
from app.study.errors import StudyRecordNotFound
from app.study.schemas import StudyRecordCreate, StudyRecordRead, StudyRecordUpdate
from tests.study.conftest import insert_records, user_id

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ([], 0),
        ([date(2024, 1, 1)], 1),
        ([date(2024, 1, 30), date(2024, 1, 31), date(2024, 2, 1), date(2024, 2, 2)], 4),
        ([date(2023, 12, 31), date(2024, 1, 1), date(2024, 1, 3)], 2),
        ([date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1), date(2024, 3, 3)], 3),
        ([date(2023, 2, 28), date(2023, 3, 1)], 2),
    ],
)
def test_longest_streak(days: list[date], expected: int) -> None:
    assert stats._longest_streak(days) == expected  # pylint: disable=protected-access  # the pure helper behind stats


async def test_service_scopes_by_owner_id_or_none_for_all(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    me = await user_id(client, user_headers)
    other = await user_id(client, other_user_headers)
    record_in = StudyRecordCreate(subject="Go", title="Generics", minutes=30)
    mine = await records.create(owner_id=me, record_in=record_in)
    theirs = await records.create(owner_id=other, record_in=record_in)

    assert await records.find(record_id=theirs.id, owner_id=me) is None
    with pytest.raises(StudyRecordNotFound):
        await records.get(record_id=theirs.id, owner_id=me)
    assert (await records.get(record_id=theirs.id, owner_id=None)).id == theirs.id
    assert [r.id for r in await records.query(owner_id=me)] == [mine.id]
    assert {r.id for r in await records.query(owner_id=None)} == {mine.id, theirs.id}

    updated = await records.update(record=mine, record_in=StudyRecordUpdate(minutes=50))
    assert (updated.minutes, updated.title) == (50, "Generics")
    assert (await records.delete(record=mine)).id == mine.id
    assert await records.find(record_id=mine.id, owner_id=None) is None


async def test_export_reads_in_keyset_chunks(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    owner = await user_id(client, user_headers)
    await insert_records(owner, [("Go", 10, date(2024, 1, d)) for d in range(1, 6)])
    chunks = [
        [r["id"] for r in chunk]
        async for chunk in formats.iter_chunks(owner_id=owner, order_by="created_at", chunk_size=2)
    ]
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    flat = [i for chunk in chunks for i in chunk]
    assert flat == sorted(flat)
    assert len(set(flat)) == 5

    lines = [part async for part in formats.export_jsonl(owner_id=owner)]
    assert sum(part.count("\n") for part in lines) == 5


async def test_stats_for_all_owners(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    await insert_records(await user_id(client, user_headers), [("Go", 10, date(2024, 1, 1))])
    await insert_records(await user_id(client, other_user_headers), [("Go", 5, date(2024, 1, 2))])
    summary = await stats.summarize(
        owner_id=None,
        period=stats.Window(first=date(2023, 1, 1), last=date(2024, 1, 3), ranged=True),
        today=date(2024, 1, 3),
    )
    assert (summary.total_minutes, summary.record_count) == (15, 2)
    assert (summary.longest_streak_days, summary.current_streak_days) == (2, 2)


def _read(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [StudyRecordRead.model_validate(row).model_dump() for row in rows]


async def test_unfiltered_page_is_one_statement_agreeing_with_the_query_builder(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    """The list's hot path (page and kept total in one hand-written statement per dialect)
    answers what the generic query answers: every order, a user and all owners, ties, the
    last partial page and a page past the end."""
    me = await user_id(client, user_headers)
    other = await user_id(client, other_user_headers)
    # Ties on every key: equal days, minutes and (within one bulk insert) creation times.
    await insert_records(me, [("Go", 10 + n % 3, date(2024, 1, 1 + n % 4)) for n in range(11)])
    await insert_records(other, [("Rust", 5, date(2024, 2, 1))] * 3)
    for order_by in (
        "studied_on",
        "-studied_on",
        "minutes",
        "-minutes",
        "created_at",
        "-created_at",
    ):
        for owner_id, expected_total in ((me, 11), (None, 14)):
            for offset in (0, 4, 8, 12, 40):
                rows, total = await pages.page_of(
                    owner_id=owner_id, order_by=order_by, offset=offset, limit=4
                )
                generic = await (
                    records.query(owner_id=owner_id, order_by=order_by)
                    .offset(offset)
                    .limit(4)
                    .values(*records.ROW_FIELDS)
                )
                # As the response reads them (MySQL's page arrives as JSON text).
                assert _read(rows) == _read(generic), (order_by, owner_id, offset)
                assert total == expected_total, (order_by, owner_id, offset)
