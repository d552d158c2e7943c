"""Shared fixtures: a database per backend, the real app with its lifespan, and clients.

Every test that asks for `client` (or `db_url`) runs once per backend: SQLite with the
in-process store, PostgreSQL and MySQL with real Redis. Each starts from empty tables;
the schema comes from the real migrations, applied once per backend and session.
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
from tortoise import Tortoise
from tortoise.context import require_context

from app.auth.models import User
from app.main import create_app
from settings import Settings
from tests.fixtures import services

# Real Celery worker and beat processes (tests/fixtures/workers.py); the Alibaba Cloud SMS
# stand-in (tests/fixtures/aliyun.py).
pytest_plugins = ["tests.fixtures.workers", "tests.fixtures.aliyun"]

TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256-0123456789"
PASSWORD = "correct horse battery staple"


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
    """Empties every table but aerich's, children before parents."""
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


@pytest.fixture
async def user_headers(client: httpx.AsyncClient) -> dict[str, str]:
    return await register_and_login(client, unique_email("user"))


@pytest.fixture
async def superuser_headers(client: httpx.AsyncClient) -> dict[str, str]:
    email = unique_email("admin")
    headers = await register_and_login(client, email)
    await User.filter(email=email).update(is_superuser=True, is_verified=True)
    return headers
