"""app/platform/mysql_rows.py: one column of a MySQL result read by its own loop gives what
aiomysql's cursor gives, for every length encoding and NULL; an error leaves the pool
working."""

from __future__ import annotations

import uuid

import orjson
import pymysql
import pytest
from tortoise import Tortoise

from app.platform import mysql_rows


@pytest.fixture
def backend() -> str:
    return "mysql"


# Lengths on each side of the protocol's 1-, 2- and 3-byte length prefixes.
LENGTHS = [0, 1, 250, 251, 65_535, 65_536, 300_000]
VALUES_SQL = " UNION ALL ".join(
    f"SELECT {n} AS n, CAST(REPEAT('é', %s) AS CHAR) AS v" for n in range(len(LENGTHS))
)


@pytest.mark.usefixtures("app")
async def test_the_values_are_aiomysqls_for_every_length_and_null() -> None:
    client = Tortoise.get_connection("default")
    sql = f"SELECT v FROM ({VALUES_SQL} UNION ALL SELECT 99, NULL) AS t ORDER BY n"  # noqa: S608  (constants)
    read = await mysql_rows.column_values(client, sql, LENGTHS)
    expected = [row["v"] for row in await client.execute_query_dict(sql, LENGTHS)]
    assert [None if value is None else value.decode() for value in read] == expected
    assert [len(value or b"") for value in read] == [2 * n for n in LENGTHS] + [0]
    assert await mysql_rows.column_values(client, "SELECT 1 FROM DUAL WHERE %s", [0]) == []
    assert await mysql_rows.column_values(client, "DO %s", [1]) == []  # no result set at all


@pytest.mark.usefixtures("app")
async def test_parameters_are_written_as_the_connections_escape_writes_them() -> None:
    client = Tortoise.get_connection("default")
    owner = uuid.uuid4()
    params = [owner, str(owner), 7, -3, "it's", None, 1.5]
    sql = "SELECT JSON_ARRAY(" + ", ".join(["%s"] * len(params)) + ")"
    (found,) = await mysql_rows.column_values(client, sql, params)
    assert orjson.loads(found) == [str(owner), str(owner), 7, -3, "it's", None, 1.5]


@pytest.mark.usefixtures("app")
async def test_an_error_is_the_servers_and_the_pool_goes_on() -> None:
    client = Tortoise.get_connection("default")
    with pytest.raises(pymysql.err.OperationalError, match="no_such_column"):
        await mysql_rows.column_values(client, "SELECT no_such_column FROM DUAL", [])
    with pytest.raises(pymysql.err.InternalError, match="exactly one column"):
        await mysql_rows.column_values(client, "SELECT 1, 2", [])
    # Every connection of the pool still answers, in order.
    sql = "SELECT CAST(%s AS CHAR)"
    size = client._pool.maxsize  # pylint: disable=protected-access  # the pool itself
    for n in range(size * 2):
        assert await mysql_rows.column_values(client, sql, [n]) == [str(n).encode()]
