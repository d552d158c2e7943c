"""Shared fixtures: a database per backend, the real app with its lifespan, and clients.

A test that asks for `client` (or `db_url`) runs on SQLite with the in-process store, and
also on PostgreSQL and MySQL, with real Redis, when it is marked `dialects`: see
tests/README.md for which tests are. Each starts from empty tables; the schema comes from
the real migrations, applied once per backend and session. Passwords are hashed cheaply
(the same code paths) except in tests marked `real_hashing`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from fastapi_users.password import PasswordHelper
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from tortoise import Tortoise
from tortoise.context import require_context

from app.auth import sessions
from app.auth.models import User
from app.main import create_app
from app.users import passwords
from settings import Settings
from tests.fixtures import services

# Real Celery worker and beat processes (tests/fixtures/workers.py); the Alibaba Cloud SMS
# stand-in (tests/fixtures/aliyun.py).
pytest_plugins = ["tests.fixtures.workers", "tests.fixtures.aliyun"]

TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256-0123456789"
PASSWORD = "correct horse battery staple"


def _backend_is_chosen(item: pytest.Item) -> bool:
    """Whether the test names its backends itself (`parametrize("backend", …)`)."""
    for mark in item.iter_markers("parametrize"):
        names = mark.args[0]
        if "backend" in (names.split(",") if isinstance(names, str) else names):
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Runs a test on PostgreSQL and MySQL too only where the code under it differs by
    dialect (marked `dialects`) or where it names its backends; SQLite otherwise."""
    kept, left_out = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec is not None else None
        if (
            backend in (None, "sqlite")
            or item.get_closest_marker("dialects") is not None
            or _backend_is_chosen(item)
        ):
            kept.append(item)
        else:
            left_out.append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line at the end naming how many tests were skipped and for lack of what (only
    a missing service skips a test, and under REQUIRE_SERVICES=1 that fails instead); and
    the figures tests measured (`record_property("figure", …)`: the image's size)."""
    for report in terminalreporter.stats.get("passed", []):
        for name, value in report.user_properties:
            if name == "figure" and report.when == "call":
                terminalreporter.write_line(f"figure: {value}")
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else "skipped"
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    if reasons:
        listed = "; ".join(f"{n} for {reason}" for reason, n in sorted(reasons.items()))
        terminalreporter.write_line(
            f"{sum(reasons.values())} tests skipped: {listed} (REQUIRE_SERVICES=1 fails them)",
            yellow=True,
            bold=True,
        )


@pytest.fixture(autouse=True)
def cheap_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at a low cost: the same code paths in a fraction of the time. A test that
    measures hashing itself is marked `real_hashing`."""
    if request.node.get_closest_marker("real_hashing") is not None:
        return
    cheap = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    monkeypatch.setattr("app.users.passwords.PASSWORD_HELPER", PasswordHelper(cheap))


@pytest.fixture(scope="session")
def test_tmp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("studylog")


@pytest.fixture(scope="session")
def prepared_databases(test_tmp_dir: Path) -> Callable[[str], str]:
    """Backend name → URL of a migrated test database (prepared on first use)."""
    results: dict[str, tuple[str, str | None]] = {}

    def get(backend: str) -> str:
        if backend not in results:
            url = services.backend_url(backend, test_tmp_dir)
            results[backend] = (url, services.prepare_database(url))
        url, reason = results[backend]
        if reason:
            services.unavailable(reason)
        return url

    return get


@pytest.fixture(scope="session")
def redis_url() -> str:
    reason = services.redis_reason()
    if reason:
        services.unavailable(reason)
    return services.REDIS_URL


@pytest.fixture(params=services.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(backend: str, prepared_databases: Callable[[str], str]) -> str:
    return prepared_databases(backend)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Tests override single settings by overriding this fixture."""
    return {}


@pytest.fixture
def settings(
    backend: str,
    db_url: str,
    request: pytest.FixtureRequest,
    settings_overrides: dict[str, Any],
    tmp_path: Path,
) -> Settings:
    # PostgreSQL and MySQL run with Redis as in production; SQLite with the in-process store.
    redis = ""
    if backend != "sqlite":
        redis = request.getfixturevalue("redis_url")
        services.flush_redis()
    values: dict[str, Any] = {
        "APP_ENV": "test",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis,
        "SECRET_KEY": TEST_SECRET_KEY,
        "LOG_FORMAT": "text",
        "DB_POOL_MAX_SIZE": 5,
        "EXPORT_DIR": str(tmp_path / "exports"),
    }
    values.update(settings_overrides)
    return Settings(**values)


async def clean_tables() -> None:
    """Empties every table but aerich's, children before parents (and MySQL's kept value
    counts)."""
    conn = Tortoise.get_connection("default")
    quote = "`" if conn.schema_generator.DIALECT == "mysql" else '"'
    apps = require_context().apps
    assert apps is not None
    models = [m for m in apps.get_models_iterable() if m._meta.db_table != "aerich"]

    def depth(model: Any) -> int:
        parents = [model._meta.fields_map[name].related_model for name in model._meta.fk_fields]
        return 1 + max((depth(p) for p in parents if p is not model), default=0)

    for model in sorted(models, key=depth, reverse=True):
        table = model._meta.db_table  # from our own models, not from input
        await conn.execute_script(f"DELETE FROM {quote}{table}{quote}")  # noqa: S608
    if conn.schema_generator.DIALECT == "mysql":
        # Migration 14's table has no model; a test that drops a partition by hand leaves
        # counts of rows no trigger saw go (the purge forgets the days it drops).
        await conn.execute_script("DELETE FROM `audit_value_count`")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app with its lifespan running and empty tables. It yields the FastAPI object
    itself (not LifespanManager's wrapper) so tests reach `state` and
    `dependency_overrides`; the app keeps nothing in lifespan state."""
    services.forget_dialect_caches()
    application = create_app(settings)
    async with LifespanManager(application):
        await clean_tables()
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def register_and_login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> dict[str, str]:
    """Registers an account through the API and returns its bearer headers."""
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password}
    )
    assert response.status_code == 201, response.text
    return await login(client, email, password)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/jwt/login", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


async def make_user(
    email: str | None = None, *, password: str = PASSWORD, superuser: bool = False
) -> User:
    """An account stored through the ORM (the tests of registration go through the API)."""
    return await User.create(
        email=(email or unique_email("admin" if superuser else "user")).lower(),
        hashed_password=passwords.PASSWORD_HELPER.hash(password),
        is_superuser=superuser,
        is_verified=superuser,
    )


async def bearer_for(app: FastAPI, user: User) -> dict[str, str]:
    """The headers of a new login session of `user`, started as a login starts one."""
    tokens = await sessions.start_session(user=user, settings=app.state.settings)
    return {"Authorization": f"Bearer {tokens.access_token}"}


@pytest.fixture
async def user_headers(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    del client  # asked for first, so the client's app is the one the user is made in
    return await bearer_for(app, await make_user())


@pytest.fixture
async def superuser_headers(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    del client
    return await bearer_for(app, await make_user(superuser=True))
