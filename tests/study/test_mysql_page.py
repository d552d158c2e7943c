"""MySQL's unfiltered page (app/study/pages.py): one JSON object per row, read straight off
the owner's index, without the temporary tables an aggregate of the page made MariaDB write
to disk for every request; and it is the page the other dialects give."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from tortoise import Tortoise
from tortoise.transactions import in_transaction

from app.study import pages
from app.study.models import StudyRecord
from app.study.records import ROW_FIELDS
from tests.study.conftest import insert_records, user_id


@pytest.fixture
def backend() -> str:
    return "mysql"


async def _temporary_tables(sql: str, params: list[object]) -> tuple[int, int]:
    """(temporary tables, of them on disk) that MariaDB made for one statement."""
    async with in_transaction() as conn:  # one connection for the three statements
        await conn.execute_script("FLUSH STATUS")
        await conn.execute_query(sql, params)
        _, made = await conn.execute_query("SHOW SESSION STATUS LIKE 'Created_tmp%tables'")
    counts = {row["Variable_name"]: int(row["Value"]) for row in made}
    return counts["Created_tmp_tables"], counts["Created_tmp_disk_tables"]


@pytest.mark.parametrize("all_owners", [False, True])
async def test_a_page_makes_no_temporary_table(
    client: httpx.AsyncClient, user_headers: dict[str, str], all_owners: bool
) -> None:
    owner = await user_id(client, user_headers)
    await insert_records(owner, [("Go", 30 + n, date(2026, 1, 1 + n)) for n in range(25)])
    sql = pages._mysql_json_page_sql("-studied_on", all_owners)  # pylint: disable=protected-access  # the statement itself
    params: list[object] = [20, 0] if all_owners else [str(owner), str(owner), 20, 0]
    assert await _temporary_tables(sql, params) == (0, 0)


async def test_the_page_is_the_rows_in_order_with_the_kept_total(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    owner = await user_id(client, user_headers)
    await insert_records(owner, [("Go", 30 + n % 4, date(2026, 1, 1 + n % 9)) for n in range(25)])
    for order_by in ("-studied_on", "minutes", "-created_at"):
        for offset in (0, 20, 40):
            rows, total = await pages.page_of(
                owner_id=owner, order_by=order_by, offset=offset, limit=20
            )
            key = order_by.lstrip("-")
            expected = await Tortoise.get_connection("default").execute_query_dict(
                f"SELECT `id` FROM `study_record` WHERE `owner_id` = %s "  # noqa: S608  (our constants)
                f"ORDER BY `{key}` {'DESC' if order_by[0] == '-' else 'ASC'}, "
                f"`id` {'DESC' if order_by[0] == '-' else 'ASC'} LIMIT 20 OFFSET %s",
                [str(owner), offset],
            )
            assert [row["id"] for row in rows] == [row["id"] for row in expected]
            assert total == 25
            # The kept total rides in each row's JSON object; it leaves the rows.
            assert all(row.keys() == set(ROW_FIELDS) for row in rows)
    # Over all owners, the total is the sum of the kept slots (the other tests' records too).
    rows, total = await pages.page_of(owner_id=None, offset=0, limit=5)
    assert len(rows) == 5
    assert all(row.keys() == set(ROW_FIELDS) for row in rows)
    assert total == await StudyRecord.all().count() >= 25
