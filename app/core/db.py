"""Database access shared by the domains: the Tortoise registration and a bounded ping."""

import asyncio

from fastapi import FastAPI
from tortoise import Tortoise
from tortoise.contrib.fastapi import RegisterTortoise

from settings import Settings


def register_tortoise(app: FastAPI, settings: Settings) -> RegisterTortoise:
    """Tortoise for the app's lifespan; the schema comes from migrations, never from here."""
    return RegisterTortoise(app, config=settings.tortoise_config(), generate_schemas=False)


async def ping_database(timeout_seconds: float) -> None:
    """Raises when the default database does not answer `SELECT 1` in time."""
    async with asyncio.timeout(timeout_seconds):
        await Tortoise.get_connection("default").execute_query("SELECT 1")
