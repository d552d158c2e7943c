"""`python run.py audit …`: purge old days, export a time range to a file, the partitions.

Also the pieces both export commands (this one and `study export`) share: the format
choice, the output file check, and writing a file that appears complete or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.audit import service
from app.audit.models import AuditLog
from app.audit.schemas import AuditLogFilters, AuditLogRead
from app.platform import csvsafe
from backend import partitions
from backend.common import (
    CommandError,
    err_console,
    fail,
    out_console,
    print_json,
    require_yes,
    run,
)

T = TypeVar("T")
ExportFormat = Literal["csv", "jsonl"]
Write = Callable[[str], None]

cli = typer.Typer(
    help="The request audit trail: purge old days, export a time range, day partitions.",
    no_args_is_help=True,
)
cli.add_typer(partitions.cli, name="partitions")

AUDIT_FIELDS = tuple(AuditLogRead.model_fields)


# --- shared by the export commands -----------------------------------------------------------


def output_path(value: Path) -> Path:
    """Option callback: a file path in an existing directory."""
    if value.is_dir():
        raise typer.BadParameter(f"{value} is a directory")
    if not value.parent.is_dir():
        raise typer.BadParameter(f"directory {value.parent} does not exist")
    return value


def format_option() -> Any:
    return typer.Option(..., "--format", help="csv (with a header line) or jsonl.")


def output_option() -> Any:
    return typer.Option(
        ...,
        "--output",
        "-o",
        dir_okay=False,
        callback=output_path,
        help="File to write (replaced if it exists).",
    )


def write_export(output: Path, produce: Callable[[Write], Awaitable[T]]) -> T:
    """Runs `produce(write)` as the command's async work with `output` open for writing.

    The text goes to a hidden file beside `output`, renamed over it at the end: a failed or
    interrupted export leaves no half-written file behind. UTF-8, and newlines as given, so
    the bytes are what the API streams.
    """
    partial = output.with_name(f".{output.name}.partial")

    def failed(exc: OSError) -> CommandError:
        return CommandError(f"cannot write {output}: {exc.strerror or exc}")

    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:

            def write(text: str) -> None:
                try:
                    handle.write(text)
                except OSError as exc:  # not a "database error", as run() would call it
                    raise failed(exc) from exc

            result = run(lambda: produce(write))
        partial.replace(output)
        return result
    except OSError as exc:  # opening, flushing on close, renaming
        partial.unlink(missing_ok=True)
        fail(str(failed(exc)))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def export_progress() -> Progress:
    """A progress bar on stderr (stdout keeps the summary), gone when done."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


# --- purge ------------------------------------------------------------------------------------


@cli.command("purge")
def purge_command(
    older_than_days: int = typer.Option(
        ...,
        "--older-than-days",
        min=0,
        help="Remove the days before today - N (UTC): today and N whole days stay.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would go."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    batch_size: int = typer.Option(
        service.PURGE_BATCH_SIZE,
        "--batch-size",
        min=1,
        max=100_000,
        help="Rows per DELETE where rows are deleted (SQLite): smaller holds shorter locks.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Remove whole days older than N days: day partitions are dropped (PostgreSQL, MySQL),
    other rows deleted in batches; prints what went, with row estimates."""
    if not dry_run:
        require_yes(yes, f"Remove the audit entries of days older than {older_than_days} days?")

    async def work() -> service.PurgeReport:
        if dry_run:
            return await service.purge(older_than_days=older_than_days, dry_run=True)
        with err_console.status(f"removing audit entries older than {older_than_days} days"):
            return await service.purge(older_than_days=older_than_days, batch_size=batch_size)

    report = run(work)
    if as_json:
        print_json(
            {
                "older_than_days": older_than_days,
                "dry_run": dry_run,
                "before": report.cutoff.isoformat(),
                "partitions": [p.as_dict() for p in report.partitions],
                "rows_deleted": report.rows_deleted,
                "count": report.rows,
            }
        )
        return
    if report.partitions:
        partitions.show(
            report.partitions,
            as_json=False,
            title="partitions that would go" if dry_run else "partitions dropped",
        )
    verb = "would remove" if dry_run else "removed"
    estimate = "an unknown number of" if report.rows is None else f"{report.rows}"
    out_console.print(
        f"{verb} {estimate} audit entries before {report.cutoff.date().isoformat()} "
        f"(older than {older_than_days} days)",
        highlight=False,
    )


# --- export -----------------------------------------------------------------------------------


def _utc_time(value: str) -> datetime:
    """An ISO 8601 date or time; one without a zone is UTC, as everything stored is."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 date or time (2024-05-01, 2024-05-01T12:00:00Z)"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _csv_rows(entries: Iterable[AuditLog]) -> str:
    # Paths, queries and user agents come from anyone on the internet: csvsafe quotes and
    # defuses them.
    dumped = (AuditLogRead.model_validate(e).model_dump(mode="json") for e in entries)
    return csvsafe.lines([row[name] for name in AUDIT_FIELDS] for row in dumped)


def _jsonl_rows(entries: Iterable[AuditLog]) -> str:
    return "".join(AuditLogRead.model_validate(e).model_dump_json() + "\n" for e in entries)


@cli.command("export")
def export_command(
    since: datetime = typer.Option(
        ..., "--since", parser=_utc_time, metavar="TIME", help="Entries at or after (UTC)."
    ),
    until: datetime = typer.Option(
        ..., "--until", parser=_utc_time, metavar="TIME", help="Entries before (UTC)."
    ),
    export_format: ExportFormat = format_option(),
    output: Path = output_option(),
    user_id: uuid.UUID | None = typer.Option(None, "--user-id", help="Only this user's."),
    batch_size: int = typer.Option(
        service.EXPORT_CHUNK_SIZE, "--batch-size", min=1, max=100_000, help="Entries per query."
    ),
) -> None:
    """Write the entries of a time range to a file, oldest first, with a progress bar."""
    # Rows are read in id-ordered batches and written as they come: memory stays flat
    # however many there are.
    if until <= since:
        raise typer.BadParameter("must be later than --since", param_hint="'--until'")
    filters = AuditLogFilters(since=since, until=until, user_id=user_id)
    render = _csv_rows if export_format == "csv" else _jsonl_rows

    async def produce(write: Write) -> int:
        if export_format == "csv":
            write(csvsafe.line(AUDIT_FIELDS))
        written = 0
        with export_progress() as progress:
            task = progress.add_task(
                "audit entries", total=await service.query(filters=filters).count()
            )
            async for chunk in service.iter_chunks(filters=filters, chunk_size=batch_size):
                write(render(chunk))
                written += len(chunk)
                progress.update(task, advance=len(chunk))
        return written

    written = write_export(output, produce)
    out_console.print(f"wrote {written} audit entries to {output}", highlight=False)
