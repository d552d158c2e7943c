"""Migrations: aerich through its Python API, one history for every database (the engine
behind `python run.py db …`).

aerich writes the SQL of one dialect into a migration. Ours hold the statements for SQLite,
PostgreSQL and MySQL side by side, rendered by aerich's own differ against each dialect
offline, and `upgrade(db)` picks the connected one. aerich applies them as usual, so plain
`aerich upgrade` / `aerich history` keep working on every database.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aerich import Command
from aerich.ddl.sqlite import SqliteDDL
from aerich.migrate import Migrate
from aerich.utils import (
    decompress_dict,
    get_formatted_compressed_data,
    get_models_describe,
    import_py_file,
)
from tortoise import Model, Tortoise
from tortoise.exceptions import OperationalError
from tortoise.utils import get_schema_sql

from app.platform.dialect import quote
from settings import BASE_DIR, Settings

APP_LABEL = "models"
MIGRATIONS_DIR = BASE_DIR / "migrations"
DIALECTS = ("sqlite", "postgres", "mysql")
# URLs that are never connected to: they only select the SQL dialect aerich renders.
_OFFLINE_URLS = {
    "sqlite": "sqlite://:memory:",
    "postgres": "postgres://offline@127.0.0.1:9/offline",
    "mysql": "mysql://offline@127.0.0.1:9/offline",
}

# A migration's SQL for a database the change does not touch (a MySQL-only collation).
NO_CHANGE = "-- nothing changes on this database\nSELECT 1;\n"

MIGRATION_TEMPLATE = '''"""{title}

Written by `python run.py db migrate`: the same change for each SQL dialect, so one history
serves SQLite, PostgreSQL and MySQL. Edit by hand only with the reason written here.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = {upgrade}

DOWNGRADE = {downgrade}


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE[db.schema_generator.DIALECT]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE[db.schema_generator.DIALECT]


MODELS_STATE = (
    {models_state}
)
'''


class MigrationError(RuntimeError):
    """A migration command that cannot do what it was asked."""


def config_for(url: str) -> dict[str, Any]:
    """The Tortoise config of a database URL, with the settings' pool defaults."""
    return Settings(DATABASE_URL=url).tortoise_config()


@asynccontextmanager
async def command(url: str) -> AsyncIterator[Command]:
    """aerich's Command on a freshly initialised Tortoise, closed afterwards."""
    config = config_for(url)
    # Initialise explicitly: aerich skips it when an earlier, closed context looks inited.
    await Tortoise.init(config=config)
    try:
        cmd = Command(tortoise_config=config, app=APP_LABEL, location=str(MIGRATIONS_DIR))
        await cmd.init()
        yield cmd
    finally:
        await Tortoise.close_connections()


def migration_dir() -> Path:
    return Migrate.get_migration_dir(str(MIGRATIONS_DIR), APP_LABEL)


def migration_files() -> list[Path]:
    directory = migration_dir()
    if not directory.is_dir():
        return []
    files = [p for p in directory.glob("*.py") if p.stem.split("_", 1)[0].isdigit()]
    return sorted(files, key=lambda p: int(p.stem.split("_", 1)[0]))


def last_models_state() -> dict[str, Any] | None:
    files = migration_files()
    if not files:
        return None
    module = import_py_file(files[-1])
    state = getattr(module, "MODELS_STATE", None)
    if not state:
        raise MigrationError(f"{files[-1].name} has no MODELS_STATE; run `aerich fix-migrations`")
    return decompress_dict(state)


def one_dialect_migrations() -> list[str]:
    """Migration files without the SQL of every dialect (plain `aerich migrate` writes the
    connected database's only): applied elsewhere they would break or skip the change."""
    found = []
    for path in migration_files():
        module = import_py_file(path)
        complete = all(
            isinstance(sql := getattr(module, table, None), dict) and set(DIALECTS) <= set(sql)
            for table in ("UPGRADE", "DOWNGRADE")
        )
        if not complete:
            found.append(path.name)
    return found


@contextmanager
def _quiet_mysql_version() -> Iterator[None]:
    # aerich asks the MySQL server for its version to pick the column rename syntax;
    # offline it reads this variable. MySQL 8 and MariaDB >= 10.5 share that syntax.
    old = os.environ.get("AERICH_MYSQL_VERSION")
    os.environ["AERICH_MYSQL_VERSION"] = old or "8.0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("AERICH_MYSQL_VERSION", None)


def _reset_differ() -> None:
    # aerich keeps the differ's state on the class; this is its only reset.
    # pylint: disable=protected-access
    Migrate.upgrade_operators = []
    Migrate.downgrade_operators = []
    Migrate._upgrade_fk_m2m_index_operators = []
    Migrate._downgrade_fk_m2m_index_operators = []
    Migrate._upgrade_m2m = []
    Migrate._downgrade_m2m = []
    Migrate._rename_fields = {}
    Migrate._rename_models = {}


def _sqlite_type(field_describe: dict[str, Any]) -> str | None:
    types = field_describe.get("db_field_types") or {}
    return types.get("sqlite", types.get(""))


def _sqlite_ddl(old_state: dict[str, Any]) -> type[SqliteDDL]:
    """aerich's SQLite DDL, except that modifying a column whose SQLite type stays the same
    (a collation or type that only another dialect spells differently) writes nothing.

    SQLite cannot alter a column; aerich refuses any column change there, so one history for
    three databases could never change a column for MySQL alone. A change SQLite would see
    still raises.
    """

    class SqliteDDLForOtherDialects(SqliteDDL):
        def modify_column(
            self, model: type[Model], field_describe: dict[str, Any], is_pk: bool = True
        ) -> str:
            table = model._meta.db_table  # pylint: disable=protected-access  # Tortoise's metadata
            old_fields = [
                field
                for describe in old_state.values()
                if describe.get("table") == table
                for field in describe.get("data_fields", [])
                if field.get("db_column") == field_describe.get("db_column")
            ]
            if old_fields and _sqlite_type(old_fields[0]) == _sqlite_type(field_describe):
                return ""
            return super().modify_column(model, field_describe, is_pk)

    return SqliteDDLForOtherDialects


def _join(statements: list[str]) -> str:
    return "".join(f"{s.rstrip().rstrip(';')};\n" for s in statements if s.strip())


async def _render(
    dialect: str, old_state: dict[str, Any] | None
) -> tuple[str, str, dict[str, Any]]:
    """(upgrade SQL, downgrade SQL, new models state) for one dialect, without a database."""
    # aerich's differ has no public entry point that returns SQL without writing a file.
    # pylint: disable=protected-access
    config = config_for(_OFFLINE_URLS[dialect])
    await Tortoise.init(config=config)
    try:
        connection = Tortoise.get_connection("default")
        new_state = get_models_describe(APP_LABEL)
        if old_state is None:
            # The first migration creates aerich's own table too, as `aerich init-db` does;
            # undoing it keeps that table, since aerich deletes its row there afterwards.
            upgrade = get_schema_sql(connection, safe=False).strip() + "\n"
            drop = [
                describe["table"]
                for name, describe in new_state.items()
                if not name.endswith(".Aerich")
            ]
            downgrade = _join([f"DROP TABLE IF EXISTS {quote(t, dialect)}" for t in reversed(drop)])
            return upgrade, downgrade, new_state
        with _quiet_mysql_version():
            Migrate.app = APP_LABEL
            Migrate.dialect = dialect
            Migrate.ddl_class = (
                _sqlite_ddl(old_state) if dialect == "sqlite" else await Migrate.load_ddl_class()
            )
            Migrate.ddl = Migrate.ddl_class(connection)
            Migrate._db_version = "8.0" if dialect == "mysql" else None
            _reset_differ()
            old, new = Migrate._exclude_model_name_changes(dict(old_state), dict(new_state))
            # no_input: a field that disappears while one of the same shape appears is
            # taken as a rename (aerich's --no-input rule); review the written file.
            Migrate.diff_models(old, new, no_input=True)
            Migrate.diff_models(new, old, False, no_input=True)
            Migrate._merge_operators()
            return _join(Migrate.upgrade_operators), _join(Migrate.downgrade_operators), new_state
    finally:
        _reset_differ()
        await Tortoise.close_connections()


async def pending_model_changes() -> dict[str, str]:
    """SQL per dialect that the models need beyond the last migration (empty: in step)."""
    old_state = last_models_state()
    changes = {}
    for dialect in DIALECTS:
        upgrade, _, _ = await _render(dialect, old_state)
        if upgrade.strip():
            changes[dialect] = upgrade
    return changes


def _format_sql_by_dialect(sql: dict[str, str]) -> str:
    """A dict literal with one readable triple-quoted SQL block per dialect."""
    lines = ["{"]
    for dialect, text in sql.items():
        literal = f'"""\n{text}"""' if '"""' not in text and "\\" not in text else repr(text)
        lines.append(f'    "{dialect}": {literal},')
    lines.append("}")
    return "\n".join(lines)


def _next_version(name: str) -> str:
    files = migration_files()
    number = int(files[-1].stem.split("_", 1)[0]) + 1 if files else 0
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    safe = "".join(c if c.isalnum() else "_" for c in name).strip("_") or "update"
    return f"{number}_{stamp}_{safe}.py"


async def make_migration(name: str) -> Path | None:
    """Writes the next migration for the model changes; None when there are none."""
    old_state = last_models_state()
    upgrades: dict[str, str] = {}
    downgrades: dict[str, str] = {}
    state: dict[str, Any] = {}
    for dialect in DIALECTS:
        upgrades[dialect], downgrades[dialect], state = await _render(dialect, old_state)
    if not any(sql.strip() for sql in upgrades.values()):
        return None
    for sql in (upgrades, downgrades):
        for dialect, text in sql.items():
            if not text.strip():
                # aerich refuses to undo a migration without a statement.
                sql[dialect] = NO_CHANGE
    version = _next_version("init" if old_state is None else name)
    path = migration_dir() / version
    path.parent.mkdir(parents=True, exist_ok=True)
    text = MIGRATION_TEMPLATE.format(
        title=f"Migration {version.removesuffix('.py')}.",
        upgrade=_format_sql_by_dialect(upgrades),
        downgrade=_format_sql_by_dialect(downgrades),
        models_state=get_formatted_compressed_data(state),
    )
    path.write_text(text, encoding="utf-8")
    return path


async def upgrade(url: str) -> list[str]:
    """Applies pending migrations; the names applied."""
    if not migration_files():
        raise MigrationError("no migrations found under migrations/")
    async with command(url) as cmd:
        return await cmd.upgrade(run_in_transaction=True)


async def downgrade(url: str, *, version: int) -> list[str]:
    async with command(url) as cmd:
        return await cmd.downgrade(version, delete=False)


async def pending_migrations(url: str) -> list[str]:
    async with command(url) as cmd:
        try:
            return await cmd.heads()
        except OperationalError:
            # No aerich table yet: a database that was never migrated has everything pending.
            return [path.name for path in migration_files()]


async def applied_migrations(url: str) -> list[str]:
    async with command(url) as cmd:
        del cmd
        return await Command.get_applied_migrations(APP_LABEL)


# --- the command group -------------------------------------------------------------------
