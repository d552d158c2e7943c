"""GET /study-records/export: a streamed CSV or JSON-lines download of the caller's records."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from app.study.formats import EXPORT_CHUNK_SIZE
from app.study.records import ROW_FIELDS
from tests.study.conftest import TODAY, URL, create_record, insert_records, user_id

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects

EXPORT = f"{URL}/export"


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def read_jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.usefixtures("set_today")
async def test_export_csv_is_an_attachment_with_every_record(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    records = [
        await create_record(client, user_headers, title=f"Title {i}", notes='a "quoted",\nline')
        for i in range(3)
    ]
    response = await client.get(EXPORT, params={"format": "csv"}, headers=user_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=")
    assert disposition.endswith(f'-{TODAY.isoformat()}.csv"')
    assert response.text.splitlines()[0] == ",".join(ROW_FIELDS)
    rows = read_csv(response.text)
    # The list's default order: newest day first; on one day, the latest record first.
    assert rows == [{k: str(v) for k, v in record.items()} for record in reversed(records)]


async def test_export_jsonl_has_one_record_per_line(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    records = [await create_record(client, user_headers, minutes=10 + i) for i in range(3)]
    response = await client.get(EXPORT, params={"format": "jsonl"}, headers=user_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.headers["content-disposition"].endswith('.jsonl"')
    assert read_jsonl(response.text) == records[::-1]  # the list's default order


async def test_export_defaults_to_csv(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    await create_record(client, user_headers)
    response = await client.get(EXPORT, headers=user_headers)
    assert response.status_code == 200
    assert len(read_csv(response.text)) == 1


async def test_export_bad_format_is_422(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    for value in ("xml", "CSV", "", "csv;rm -rf"):
        response = await client.get(EXPORT, params={"format": value}, headers=user_headers)
        assert response.status_code == 422, value


async def test_export_applies_the_list_filters(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    await create_record(
        client, user_headers, subject="Math", title="Algebra", studied_on="2024-01-01"
    )
    wanted = await create_record(
        client, user_headers, subject="Math", title="ALGEBRA II", studied_on="2024-02-01"
    )
    await create_record(client, user_headers, subject="Art", title="Algebra of colour")
    response = await client.get(
        EXPORT,
        params={
            "format": "jsonl",
            "subject": "Math",
            "q": "algebra",
            "studied_from": "2024-01-15",
        },
        headers=user_headers,
    )
    assert read_jsonl(response.text) == [wanted]
    bad = await client.get(EXPORT, params={"studied_from": "2023-02-30"}, headers=user_headers)
    assert bad.status_code == 422


async def test_export_holds_only_the_callers_records(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_user_headers: dict[str, str],
    superuser_headers: dict[str, str],
) -> None:
    mine = await create_record(client, user_headers, title="mine")
    theirs = await create_record(client, other_user_headers, title="theirs")
    for headers, expected in (
        (user_headers, [mine]),
        (other_user_headers, [theirs]),
        (superuser_headers, [theirs, mine]),  # one day: the latest record first
    ):
        for fmt in ("csv", "jsonl"):
            response = await client.get(EXPORT, params={"format": fmt}, headers=headers)
            got = read_jsonl(response.text) if fmt == "jsonl" else read_csv(response.text)
            assert [row["title"] for row in got] == [r["title"] for r in expected]


async def test_export_neutralises_spreadsheet_formulas(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    record = await create_record(
        client, user_headers, subject="=1+1", title="@SUM(A1:A9)", notes="-2+3"
    )
    row = read_csv((await client.get(EXPORT, headers=user_headers)).text)[0]
    assert (row["subject"], row["title"], row["notes"]) == ("'=1+1", "'@SUM(A1:A9)", "'-2+3")
    jsonl = await client.get(EXPORT, params={"format": "jsonl"}, headers=user_headers)
    assert read_jsonl(jsonl.text) == [record]  # JSON keeps the data as it is


# A row split by a bare carriage return: the formula after it would start a row of its own.
SPLIT_ATTACK = "notes\r=cmd|' /C calc'!A0"
FORMULA_STARTS = ("=", "+", "-", "@", "\t")


def naive_cells(text: str) -> list[str]:
    """The cells a reader sees that ends a row at any line break and ignores quotes."""
    return [cell for line in re.split(r"\r\n|\r|\n", text) for cell in line.split(",")]


async def test_export_quotes_line_breaks_and_defuses_formulas_after_them(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    await create_record(
        client, user_headers, title="t\r@SUM(A1)", notes=f"{SPLIT_ATTACK}\n+1\r\n-2\r\r\t3"
    )
    text = (await client.get(EXPORT, headers=user_headers)).text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 2  # the header and the one record
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["title"] == "t\r'@SUM(A1)"
    assert row["notes"] == "notes\r'=cmd|' /C calc'!A0\n'+1\r\n'-2\r'\r'\t3"
    assert not [cell for cell in naive_cells(text) if cell.startswith(FORMULA_STARTS)]


async def test_export_spans_many_chunks(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    count = 2 * EXPORT_CHUNK_SIZE + 7
    first = date(2020, 1, 1)
    await insert_records(
        await user_id(client, user_headers),
        [("Bulk", 1 + i % 100, first + timedelta(days=i % 400)) for i in range(count)],
    )
    for fmt, read in (("csv", read_csv), ("jsonl", read_jsonl)):
        response = await client.get(EXPORT, params={"format": fmt}, headers=user_headers)
        rows = read(response.text)
        ids = [int(row["id"]) for row in rows]
        assert len(ids) == count
        assert len(set(ids)) == count  # none twice across the chunk seams
        # The list's default order (newest day first, ties by id descending) throughout.
        keys = [(str(row["studied_on"]), int(row["id"])) for row in rows]
        assert keys == sorted(keys, reverse=True)


@pytest.mark.parametrize(
    "order_by", ["studied_on", "-studied_on", "minutes", "-minutes", "created_at", "-created_at"]
)
async def test_export_follows_order_by_like_the_list(
    order_by: str, client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    owner = await user_id(client, user_headers)
    # Ties on every key, so the id tie-breaker decides too.
    await insert_records(owner, [("Ties", 10 + i % 3, date(2024, 1, 1 + i % 4)) for i in range(14)])
    listed = await client.get(URL, params={"order_by": order_by, "size": 100}, headers=user_headers)
    assert listed.status_code == 200
    expected = [item["id"] for item in listed.json()["items"]]
    assert len(expected) == 14
    for fmt, read in (("csv", read_csv), ("jsonl", read_jsonl)):
        response = await client.get(
            EXPORT, params={"format": fmt, "order_by": order_by}, headers=user_headers
        )
        assert response.status_code == 200
        assert [int(row["id"]) for row in read(response.text)] == expected


@pytest.mark.parametrize("order_by", ["title", "id", "-", "minutes;drop", "\x00"])
async def test_export_refuses_an_unknown_order_by_like_the_list(
    order_by: str, client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    for url in (URL, EXPORT):
        response = await client.get(url, params={"order_by": order_by}, headers=user_headers)
        assert response.status_code == 422, url
        assert response.json()["detail"][0]["loc"] == ["query", "order_by"]
