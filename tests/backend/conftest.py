"""Fixtures for the admin command line: run commands against a test database."""

import asyncio
from collections.abc import Callable

import pytest
from tortoise import Tortoise
from typer.testing import CliRunner, Result

import settings as settings_module
from app.auth.models import User
from app.users.adapter import TortoiseUserDatabase
from app.users.manager import UserManager
from app.users.schemas import UserCreate
from run import cli
from settings import Settings
from tests.conftest import PASSWORD, TEST_SECRET_KEY, clean_tables
from tests.fixtures import services


@pytest.fixture
def cli_settings(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Commands run against the backend's migrated test database, emptied first."""
    settings = Settings(
        APP_ENV="test", DATABASE_URL=db_url, SECRET_KEY=TEST_SECRET_KEY, LOG_FORMAT="text"
    )
    monkeypatch.setattr(settings_module, "settings", settings)

    async def empty() -> None:
        services.forget_dialect_caches()
        await Tortoise.init(config=settings.tortoise_config())
        try:
            await clean_tables()
        finally:
            await Tortoise.close_connections()

    asyncio.run(empty())
    return settings


@pytest.fixture
def invoke(cli_settings: Settings) -> Callable[..., Result]:
    """Runs `python run.py ARGS…` in-process; stdin= feeds prompts."""
    del cli_settings
    runner = CliRunner()

    def call(*args: str, stdin: str | None = None) -> Result:
        services.forget_dialect_caches()
        return runner.invoke(cli, list(args), input=stdin)

    return call


def in_db(settings: Settings, work: Callable[[], object]) -> object:
    """Runs an async query against the command's database, for assertions."""

    async def main() -> object:
        services.forget_dialect_caches()
        await Tortoise.init(config=settings.tortoise_config())
        try:
            return await work()  # type: ignore[misc]
        finally:
            await Tortoise.close_connections()

    return asyncio.run(main())


def create_user(settings: Settings, email: str, password: str = PASSWORD) -> User:
    """An ordinary active account, made through the same manager as the API's."""

    async def work() -> User:
        manager = UserManager(TortoiseUserDatabase(), settings)
        return await manager.create(UserCreate(email=email, password=password), safe=False)

    user = in_db(settings, work)
    assert isinstance(user, User)
    return user
