"""`python run.py db …`: the migration commands (the engine is app/platform/migrations.py)."""

from __future__ import annotations

import asyncio

import typer

from app.audit import partitions
from app.platform.migrations import (
    applied_migrations,
    downgrade,
    make_migration,
    migration_files,
    one_dialect_migrations,
    pending_migrations,
    pending_model_changes,
    upgrade,
)
from backend.common import current_settings, fail, json_option, print_json, require_yes, run
from settings import BASE_DIR

cli = typer.Typer(
    help="Database migrations (aerich), one history for SQLite, PostgreSQL and MySQL."
)


def _fail(message: str, details: str = "") -> None:
    """Details (SQL, lists) on stdout, then the one `error: …` line every command ends with."""
    if details:
        typer.echo(details)
    fail(message)


@cli.command("upgrade")
def upgrade_command(as_json: bool = json_option()) -> None:
    """Apply every pending migration to DATABASE_URL, then make the audit partitions of the
    window (PostgreSQL, MySQL)."""
    try:
        applied = asyncio.run(upgrade(current_settings().DATABASE_URL))
    except Exception as exc:  # pylint: disable=broad-exception-caught
        _fail(f"cannot apply the migrations: {exc}")
        return
    settings = current_settings()
    made = run(
        lambda: partitions.ensure(
            back_days=settings.AUDIT_RETENTION_DAYS,
            ahead_days=settings.AUDIT_PARTITIONS_AHEAD_DAYS,
        )
    )
    if as_json:
        print_json({"applied": applied, "audit_partitions_made": made})
        return
    for name in applied:
        typer.echo(f"applied {name}")
    if not applied:
        typer.echo("database is up to date")
    if made:
        typer.echo(f"made {len(made)} audit partitions, {made[0]} to {made[-1]}")


@cli.command("migrate")
def migrate_command(
    name: str = typer.Option("update", "--name", help="A short name for the migration."),
    as_json: bool = json_option(),
) -> None:
    """Write the migration for model changes (SQL for all three dialects)."""
    path = asyncio.run(make_migration(name))
    written = None if path is None else str(path.relative_to(BASE_DIR))
    if as_json:
        print_json({"written": written})
    elif written is None:
        typer.echo("no changes: models match the last migration")
    else:
        typer.echo(f"wrote {written}")


@cli.command("downgrade")
def downgrade_command(
    version: int = typer.Option(-1, "--version", "-v", help="Down to this version (-1: last)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    as_json: bool = json_option(),
) -> None:
    """Undo the last migration (or down to --version) on DATABASE_URL."""
    require_yes(yes, "Undo migrations? Data in dropped tables is lost")
    try:
        undone = asyncio.run(downgrade(current_settings().DATABASE_URL, version=version))
    except Exception as exc:  # pylint: disable=broad-exception-caught
        _fail(f"cannot undo the migrations: {exc}")
        return
    if as_json:
        print_json({"undone": undone})
        return
    for name in undone:
        typer.echo(f"undone {name}")


@cli.command("history")
def history_command(as_json: bool = json_option()) -> None:
    """List the migrations, marking the ones DATABASE_URL has applied."""
    try:
        applied = set(asyncio.run(applied_migrations(current_settings().DATABASE_URL)))
    except Exception as exc:  # pylint: disable=broad-exception-caught
        _fail(f"cannot read the applied migrations: {exc}")
        return
    history = [{"name": path.name, "applied": path.name in applied} for path in migration_files()]
    if as_json:
        print_json(history)
        return
    for migration in history:
        mark = "applied" if migration["applied"] else "pending"
        typer.echo(f"{mark:8} {migration['name']}")


@cli.command("check")
def check_command(as_json: bool = json_option()) -> None:
    """Exit 1 when models and migrations differ or DATABASE_URL has pending migrations."""
    problems, details = [], []
    partial = one_dialect_migrations()
    if partial:
        problems.append(
            f"{', '.join(partial)} holds SQL for one database only (plain `aerich migrate`): "
            "delete it and write it with `python run.py db migrate --name …`, which holds "
            "SQLite, PostgreSQL and MySQL"
        )
    changes = asyncio.run(pending_model_changes())
    if changes:
        problems.append("models changed without a migration (run `python run.py db migrate`)")
        details.append(next(iter(changes.values())).strip())
    pending: list[str] | None = None
    try:
        pending = asyncio.run(pending_migrations(current_settings().DATABASE_URL))
    except Exception as exc:  # pylint: disable=broad-exception-caught
        problems.append(f"cannot read applied migrations: {exc}")
    else:
        if pending:
            problems.append("pending migrations: " + ", ".join(pending))
    if as_json:
        # The same verdict as the text: problems still end in the one `error: …` line.
        print_json(
            {
                "ok": not problems,
                "problems": problems,
                "one_dialect_migrations": partial,
                "pending_migrations": pending,
                "model_changes_sql": "\n".join(details) or None,
            }
        )
        if problems:
            fail("; ".join(problems))
        return
    if problems:
        _fail("; ".join(problems), "\n".join(details))
    typer.echo("ok: models, migrations and database agree")
