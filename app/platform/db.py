"""Database access shared by the domains: the Tortoise registration and a bounded ping."""

import asyncio
from typing import Any

import asyncpg
from fastapi import FastAPI
from tortoise import Tortoise
from tortoise.contrib.fastapi import RegisterTortoise
from tortoise.queryset import QuerySet

from settings import Settings


async def reset_if_in_transaction(connection: asyncpg.Connection) -> None:
    """asyncpg's pool runs `RESET ALL; CLOSE ALL; UNLISTEN *; …` on every release: one more
    round trip per query. The service sets no session state, listens to nothing and takes
    no advisory locks, so only a connection left inside a transaction needs the full reset
    (which rolls it back)."""
    if connection.is_in_transaction():
        await connection.reset()


def process_config(settings: Settings) -> dict[str, Any]:
    """The settings' Tortoise config with the pool tuning of a long-running process."""
    config = settings.tortoise_config()
    default = config["connections"]["default"]
    if default["engine"].endswith("asyncpg"):
        default["credentials"].setdefault("reset", reset_if_in_transaction)
        # Connections handed out first come, first served (app/platform/fairpool.py).
        default["engine"] = "app.platform.fairpool"
    elif default["engine"].endswith("mysql"):
        default["engine"] = "app.platform.fairpool_mysql"
    return config


def register_tortoise(app: FastAPI, settings: Settings) -> RegisterTortoise:
    """Tortoise for the app's lifespan; the schema comes from migrations, never from here."""
    return RegisterTortoise(app, config=process_config(settings), generate_schemas=False)


async def ping_database(timeout_seconds: float) -> None:
    """Raises when the default database does not answer `SELECT 1` in time."""
    async with asyncio.timeout(timeout_seconds):
        await Tortoise.get_connection("default").execute_query("SELECT 1")


async def capped_count(selection: QuerySet[Any], cap: int) -> int:
    """How many rows `selection` matches, counting no further than `cap`: the database stops
    reading at the cap and answers one number (Tortoise's `count()` ignores a limit, and
    fetching the ids to count them costs a row per match in the driver and in Python)."""
    limited = selection.limit(cap).values_list(selection.model._meta.pk_attr)  # pylint: disable=protected-access  # Tortoise's public metadata
    limited.sql()  # builds `limited.query` for the dialect
    sql, params = limited.query.get_parameterized_sql()
    _, rows = await Tortoise.get_connection("default").execute_query(
        f"SELECT COUNT(*) AS n FROM ({sql}) AS capped",  # noqa: S608  (built by the ORM, values bound)
        params,
    )
    return int(rows[0]["n"])
