"""Migrations: one history builds the models' schema on SQLite, PostgreSQL and MySQL."""

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise
from typer.testing import CliRunner

import settings as settings_module
from app.audit.partitions import utc_today
from app.auth.models import User
from app.platform import migrations as db
from app.study.models import StudyDay, StudyRecord
from run import cli
from settings import BASE_DIR, Settings
from tests.fixtures import schema, services, tally

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects


@pytest.fixture
def scratch_url(backend: str, test_tmp_dir: Path) -> str:
    """An empty database of the backend, apart from the shared test database."""
    url = services.backend_url(backend, test_tmp_dir, scratch="scratch")

    async def empty() -> None:
        services.forget_dialect_caches()
        if backend != "sqlite":
            await services.create_server_database(url)
        await services.drop_all_tables(url)

    try:
        asyncio.run(empty())
    except OSError as exc:
        services.unavailable(f"{backend} is unreachable: {exc!r}")
    return url


@pytest.fixture
def use_database(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Points the CLI's settings at a database."""

    def point(url: str) -> None:
        monkeypatch.setattr(settings_module, "settings", Settings(DATABASE_URL=url))

    return point


async def _schema_after(url: str, build: Callable[[], Any]) -> dict[str, Any]:
    services.forget_dialect_caches()
    await services.drop_all_tables(url)
    await build()
    await Tortoise.init(config=Settings(DATABASE_URL=url).tortoise_config())
    try:
        return await schema.introspect()
    finally:
        await Tortoise.close_connections()


# Indexes no model can describe, written by hand in a migration (which says why), by
# table: what the migrations build beyond the models' schema on PostgreSQL.
HAND_WRITTEN_POSTGRES_INDEXES = {
    "audit_log": {
        "CREATE INDEX idx_audit_log_path_prefix ON public.audit_log "
        "USING btree (path text_pattern_ops)"
    }
}


# Indexes a model describes that PostgreSQL's migrations drop by hand (migration 12 says
# why): the plain (path) index, which the text_pattern_ops one above does the work of there.
# Tables the migrations write by hand with no model: MySQL's kept counts per audit filter
# value (migration 14, app/audit/value_counts.py).
HAND_WRITTEN_MYSQL_TABLES = {"audit_value_count"}
DROPPED_POSTGRES_INDEXES = {
    "audit_log": {"CREATE INDEX idx_audit_log_path_39c3ce ON public.audit_log USING btree (path)"}
}


# Partitions no model can describe (migration 9): the audit table is split by day, and its
# primary key holds the partition key, as both databases require.
AUDIT_DAY_TABLE = re.compile(r"^audit_log_(p\d{8}|legacy)$")


def _without_partitions(schema: dict[str, Any], backend: str) -> dict[str, Any]:
    """The migrated schema as the models describe it: the audit table's partitions left out
    and its primary key (id, created_at) read as the model's (id), after checking both."""
    audit = schema["audit_log"]
    if backend == "postgres":
        days = [name for name in schema if AUDIT_DAY_TABLE.match(name)]
        assert days, "the audit table has no day partitions"
        for name in days:
            del schema[name]
        audit["constraints"].remove("PRIMARY KEY (id, created_at)")
        audit["constraints"].add("PRIMARY KEY (id)")
        audit["indexes"] = {
            index.replace(" ON ONLY public.audit_log ", " ON public.audit_log ").replace(
                "(id, created_at)", "(id)"
            )
            for index in audit["indexes"]
        }
    else:
        audit["indexes"].remove((("PRIMARY", False), ("id", "created_at")))
        audit["indexes"].add((("PRIMARY", False), ("id",)))
    return schema


async def test_migrations_build_the_schema_the_models_describe(
    scratch_url: str, backend: str
) -> None:
    async def migrate() -> None:
        await db.upgrade(scratch_url)

    async def generate() -> None:
        await Tortoise.init(config=Settings(DATABASE_URL=scratch_url).tortoise_config())
        try:
            await Tortoise.generate_schemas(safe=False)
        finally:
            await Tortoise.close_connections()

    migrated = await _schema_after(scratch_url, migrate)
    generated = await _schema_after(scratch_url, generate)
    assert {"user", "study_record", "audit_log", "aerich"} <= set(migrated)
    if backend != "sqlite":
        migrated = _without_partitions(migrated, backend)
    if backend == "postgres":
        for table, indexes in HAND_WRITTEN_POSTGRES_INDEXES.items():
            assert indexes <= migrated[table]["indexes"], migrated[table]["indexes"]
            migrated[table]["indexes"] -= indexes
        for table, indexes in DROPPED_POSTGRES_INDEXES.items():
            assert not indexes & migrated[table]["indexes"], migrated[table]["indexes"]
            migrated[table]["indexes"] |= indexes
    if backend == "mysql":
        assert set(migrated) >= HAND_WRITTEN_MYSQL_TABLES
        for table in HAND_WRITTEN_MYSQL_TABLES:
            del migrated[table]
    else:
        assert not HAND_WRITTEN_MYSQL_TABLES & set(migrated)
    assert migrated == generated


async def test_models_match_the_last_migration() -> None:
    assert await db.pending_model_changes() == {}


async def test_a_model_change_without_migration_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    state = db.last_models_state()
    assert state is not None
    record = state["models.StudyRecord"]
    record["data_fields"] = [f for f in record["data_fields"] if f["name"] != "notes"]
    monkeypatch.setattr(db, "last_models_state", lambda: state)
    changes = await db.pending_model_changes()
    assert set(changes) == set(db.DIALECTS)
    assert '"notes"' in changes["postgres"]
    assert "`notes`" in changes["mysql"]


async def test_kept_counts_migration_backfills_the_records_already_stored(
    scratch_url: str,
) -> None:
    """Records stored before the counts existed are counted by the migration that adds them:
    per user, in all, and per day and subject (subjects differing only in case or accent
    stay apart on MySQL too)."""
    kept_counts = next(p for p in db.migration_files() if p.stem.endswith("_kept_counts"))
    await db.upgrade(scratch_url)
    config = Settings(DATABASE_URL=scratch_url).tortoise_config()
    # The accounts are made with today's schema (the model has columns that later
    # migrations add); the records after the downgrade, as they were stored back then.
    services.forget_dialect_caches()
    await Tortoise.init(config=config)
    try:
        owner_ids = [
            (await User.create(email=f"backfill-{n}@example.com", hashed_password="x")).id
            for n in range(2)
        ]
    finally:
        await Tortoise.close_connections()
    await db.downgrade(scratch_url, version=int(kept_counts.stem.split("_", 1)[0]))

    services.forget_dialect_caches()
    await Tortoise.init(config=config)
    try:
        await StudyRecord.bulk_create(
            StudyRecord(
                owner_id=owner_ids[(i // 4) % 2],
                subject=("Math", "math", "Mathé", "Go")[i % 4],
                title=f"r{i}",
                minutes=5 + i,
                studied_on=date(2024, 1, 1) + timedelta(days=(i // 8) % 3),
            )
            for i in range(48)
        )
        expected = await tally.from_scratch()
    finally:
        await Tortoise.close_connections()
    # 2 owners x 4 subjects x 3 days, all apart, two records each.
    assert len(expected["days"]) == 24

    await db.upgrade(scratch_url)
    services.forget_dialect_caches()
    await Tortoise.init(config=config)
    try:
        assert await tally.kept() == expected
    finally:
        await Tortoise.close_connections()


async def test_kept_streaks_migration_backfills_subjects_and_runs_from_the_rollup(
    scratch_url: str,
) -> None:
    """Users who studied before the subject totals and the runs were kept get them from
    the migration that adds them: runs across a month and a year end, a day alone, days
    with several subjects, subjects differing only in case or accent (apart on MySQL too)."""
    kept_streaks = next(p for p in db.migration_files() if p.stem.endswith("_kept_streaks"))
    await db.upgrade(scratch_url)
    config = Settings(DATABASE_URL=scratch_url).tortoise_config()
    services.forget_dialect_caches()
    await Tortoise.init(config=config)
    try:
        owner_ids = [
            (await User.create(email=f"streaks-{n}@example.com", hashed_password="x")).id
            for n in range(3)
        ]
    finally:
        await Tortoise.close_connections()
    await db.downgrade(scratch_url, version=int(kept_streaks.stem.split("_", 1)[0]))

    first = date(2023, 3, 1)
    offsets = ([0, 1, 2, 4, 6, 7, 7], [100], [*range(300, 340), 341, 341])
    services.forget_dialect_caches()
    await Tortoise.init(config=config)
    try:
        await StudyRecord.bulk_create(
            StudyRecord(
                owner_id=owner_id,
                subject=("Math", "math", "Mathé")[i % 3],
                title=f"r{i}",
                minutes=5 + i,
                studied_on=first + timedelta(days=offset),
            )
            for owner_id, days in zip(owner_ids, offsets, strict=True)
            for i, offset in enumerate(days)
        )
        expected = await tally.from_scratch()
        # The rollup as the version before kept it (the new tables do not exist yet).
        await StudyDay.bulk_create(
            StudyDay(
                owner_id=owner,
                studied_on=date.fromisoformat(day),
                subject=subject,
                minutes=minutes,
                records=records,
            )
            for (owner, day, subject), (minutes, records) in expected["days"].items()
        )
    finally:
        await Tortoise.close_connections()
    assert len(expected["runs"]) == 3 + 1 + 2
    assert len(expected["subjects"]) == 3 + 1 + 3

    await db.upgrade(scratch_url)
    services.forget_dialect_caches()
    await Tortoise.init(config=config)
    try:
        kept = await tally.kept()
    finally:
        await Tortoise.close_connections()
    for table in ("days", "subjects", "runs"):
        assert kept[table] == expected[table], table


def test_check_passes_on_a_migrated_database(
    scratch_url: str, use_database: Callable[[str], None]
) -> None:
    use_database(scratch_url)
    runner = CliRunner()
    upgraded = runner.invoke(cli, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert "applied 0_" in upgraded.output
    again = runner.invoke(cli, ["db", "upgrade"])
    assert again.exit_code == 0
    assert "up to date" in again.output
    checked = runner.invoke(cli, ["db", "check"])
    assert checked.exit_code == 0, checked.output
    history = runner.invoke(cli, ["db", "history"])
    assert history.exit_code == 0
    assert all(line.startswith("applied") for line in history.output.strip().splitlines())


def test_the_migration_commands_report_what_they_did_in_json(
    scratch_url: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two days past the migration's own 14 ahead: `upgrade` makes them after migrating.
    settings = Settings(DATABASE_URL=scratch_url, AUDIT_PARTITIONS_AHEAD_DAYS=16)
    monkeypatch.setattr(settings_module, "settings", settings)
    runner = CliRunner()
    names = [path.name for path in db.migration_files()]

    def json_of(*args: str, code: int = 0) -> Any:
        result = runner.invoke(cli, ["db", *args, "--json"])
        assert result.exit_code == code, result.output
        return json.loads(result.stdout)

    upgraded = json_of("upgrade")
    assert upgraded["applied"] == names
    made = upgraded["audit_partitions_made"]
    if backend == "sqlite":
        assert made == []
    else:
        last = utc_today() + timedelta(days=16)
        assert len(made) == 2, made
        assert made[-1].endswith(f"{last:%Y%m%d}"), made
    assert json_of("upgrade") == {"applied": [], "audit_partitions_made": []}
    assert json_of("history") == [{"name": name, "applied": True} for name in names]
    assert json_of("check")["ok"] is True

    assert json_of("downgrade", "--yes") == {"undone": [names[-1]]}
    assert json_of("history")[-1] == {"name": names[-1], "applied": False}
    failed = runner.invoke(cli, ["db", "check", "--json"])
    assert failed.exit_code == 1
    report = json.loads(failed.stdout)
    assert (report["ok"], report["pending_migrations"]) == (False, [names[-1]])
    assert failed.stderr.startswith("error: pending migrations: ")


def test_migrate_in_json_says_it_wrote_nothing_when_nothing_changed() -> None:
    result = CliRunner().invoke(cli, ["db", "migrate", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"written": None}


def test_check_fails_with_pending_migrations(
    scratch_url: str, use_database: Callable[[str], None]
) -> None:
    use_database(scratch_url)
    result = CliRunner().invoke(cli, ["db", "check"])
    assert result.exit_code == 1
    assert "pending migrations" in result.output


def test_upgrade_reports_an_unreachable_database_in_one_line(
    use_database: Callable[[str], None],
) -> None:
    use_database("postgres://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot apply the migrations:")
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The project's code and migrations in a scratch directory, free to change."""
    target = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("app", "backend", "migrations"):
        shutil.copytree(BASE_DIR / name, target / name, ignore=ignore)
    for name in ("settings.py", "run.py", "pyproject.toml"):
        shutil.copy2(BASE_DIR / name, target / name)
    return target


def _run_cli(project: Path, *args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "test"}
    return subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _add_mood_field(project: Path) -> None:
    models = project / "app" / "study" / "models.py"
    text = models.read_text()
    models.write_text(
        text.replace(
            '    notes = fields.TextField(default="")\n',
            '    notes = fields.TextField(default="")\n'
            "    mood = fields.CharField(max_length=20, null=True)\n",
        )
    )


@pytest.mark.slow  # runs the CLI in a copy of the project
def test_check_rejects_a_migration_written_by_plain_aerich_migrate(
    project_copy: Path, test_tmp_dir: Path
) -> None:
    """What a developer used to `aerich migrate` gets: a file for the connected database
    only, which `db check` (run in CI) refuses, naming the command that writes all three."""
    url = f"sqlite://{test_tmp_dir}/plain-aerich.db"
    upgraded = _run_cli(project_copy, "db", "upgrade", url=url)
    assert upgraded.returncode == 0, upgraded.stderr
    _add_mood_field(project_copy)
    aerich = Path(sys.executable).parent / "aerich"
    written = subprocess.run(
        [str(aerich), "migrate", "--name", "add_mood"],
        cwd=project_copy,
        env={**os.environ, "DATABASE_URL": url, "APP_ENV": "test"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert written.returncode == 0, written.stdout + written.stderr
    [new_file] = (project_copy / "migrations" / "models").glob("*_add_mood.py")
    assert "UPGRADE = {" not in new_file.read_text()  # aerich's own one-dialect format

    checked = _run_cli(project_copy, "db", "check", url=url)
    assert checked.returncode == 1
    [line] = checked.stderr.strip().splitlines()
    assert line.startswith(f"error: {new_file.name} holds SQL for one database only")
    assert "python run.py db migrate" in line

    # The fix it names: the same change written for all three passes.
    new_file.unlink()
    rewritten = _run_cli(project_copy, "db", "migrate", "--name", "add_mood", url=url)
    assert rewritten.returncode == 0, rewritten.stderr
    assert _run_cli(project_copy, "db", "upgrade", url=url).returncode == 0
    checked = _run_cli(project_copy, "db", "check", url=url)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
def test_a_generated_migration_applies_on_every_database(
    project_copy: Path, test_tmp_dir: Path, prepared_databases: Callable[[str], str]
) -> None:
    _add_mood_field(project_copy)
    sqlite_url = f"sqlite://{test_tmp_dir}/generated.db"
    written = _run_cli(
        project_copy, "db", "migrate", "--name", "add_mood", "--json", url=sqlite_url
    )
    assert written.returncode == 0, written.stderr
    new_files = list((project_copy / "migrations" / "models").glob("*_add_mood.py"))
    assert len(new_files) == 1
    assert json.loads(written.stdout) == {"written": str(new_files[0].relative_to(project_copy))}

    for backend in services.BACKENDS:
        url = services.backend_url(backend, test_tmp_dir, scratch="generated")
        if backend == "sqlite":
            url = sqlite_url
        else:
            prepared_databases(backend)  # skips or fails when the server is unreachable

        async def empty(url: str = url, backend: str = backend) -> None:
            if backend != "sqlite":
                await services.create_server_database(url)
            await services.drop_all_tables(url)

        asyncio.run(empty())
        upgraded = _run_cli(project_copy, "db", "upgrade", url=url)
        assert upgraded.returncode == 0, f"{backend}: {upgraded.stderr}"
        assert "add_mood" in upgraded.stdout
        checked = _run_cli(project_copy, "db", "check", url=url)
        assert checked.returncode == 0, f"{backend}: {checked.stdout}{checked.stderr}"
        undone = _run_cli(project_copy, "db", "downgrade", "--yes", url=url)
        assert undone.returncode == 0, f"{backend}: {undone.stderr}"
        assert "add_mood" in undone.stdout
