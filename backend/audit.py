"""`python run.py audit …`: purge old days, export a time range to a file, the partitions.

Also the pieces both export commands (this one and `study export`) share: the format
choice, the output file check, and writing a file that appears complete or not at all.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import typer
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.audit import service
from app.audit.cursor import CursorSlice, Position, cursor_page
from app.audit.dependencies import decode_position, encode_position
from app.audit.models import AuditLog
from app.audit.schemas import AuditLogFilters, AuditLogRead
from app.platform import csvsafe
from backend import partitions
from backend.common import (
    CommandError,
    err_console,
    fail,
    json_option,
    out_console,
    print_json,
    print_table,
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
def export_command(  # pylint: disable=too-many-positional-arguments  # one parameter per option
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
    as_json: bool = json_option(),
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
    if as_json:
        print_json(
            {
                "output": str(output.resolve()),
                "format": export_format,
                "since": since.isoformat(),
                "until": until.isoformat(),
                "user_id": None if user_id is None else str(user_id),
                "count": written,
                "bytes": output.stat().st_size,
            }
        )
    else:
        out_console.print(f"wrote {written} audit entries to {output}", highlight=False)


# --- list -------------------------------------------------------------------------------------


def _cursor_text(position: Position | None) -> str | None:
    """A position as the API's cursor text (`next_page`), so either reads the other's."""
    if position is None:
        return None
    return base64.b64encode(encode_position(position).encode()).decode()


def _read_cursor(value: str | None) -> Position | None:
    if not value:
        return None
    try:
        return decode_position(value)
    except RequestValidationError as exc:
        raise typer.BadParameter("not a cursor this command or the API made") from exc


@cli.command("list")
def list_command(  # pylint: disable=too-many-arguments,too-many-positional-arguments  # one option per API filter
    user_id: uuid.UUID | None = typer.Option(None, "--user-id", help="Only this user's."),
    method: str | None = typer.Option(None, "--method", help="Only this method (GET, …)."),
    status_code: int | None = typer.Option(None, "--status-code", help="Only this status."),
    path_prefix: str | None = typer.Option(
        None, "--path-prefix", help="Paths starting with this (case counts)."
    ),
    route: str | None = typer.Option(
        None, "--route", help="The exact route template (/api/v1/study-records/{item_id})."
    ),
    since: datetime | None = typer.Option(
        None, "--since", parser=_utc_time, metavar="TIME", help="Entries at or after (UTC)."
    ),
    until: datetime | None = typer.Option(
        None, "--until", parser=_utc_time, metavar="TIME", help="Entries before (UTC)."
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="Entries to show."),
    cursor: str | None = typer.Option(
        None, "--cursor", help="Go on from a previous run's `next` (or the API's next_page)."
    ),
    as_json: bool = json_option(),
) -> None:
    """Recorded requests, newest first, with the API's filters. Pages by keyset (the
    (created_at, id) index), so a deep page costs what the first does."""
    try:
        filters = AuditLogFilters(
            user_id=user_id,
            method=method,
            status_code=status_code,
            path_prefix=path_prefix,
            route=route,
            since=since,
            until=until,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        option = "--" + str(error["loc"][0]).replace("_", "-") if error["loc"] else "--since"
        raise typer.BadParameter(error["msg"], param_hint=f"'{option}'") from exc
    position = _read_cursor(cursor)

    async def work() -> CursorSlice:
        return await cursor_page(filters=filters, size=limit, position=position)

    page = run(work)
    entries = [AuditLogRead.model_validate(entry) for entry in page.items]
    following = _cursor_text(page.next)
    if as_json:
        print_json({"items": [e.model_dump(mode="json") for e in entries], "next": following})
        return
    print_table(
        f"{len(entries)} audit entries, newest first",
        ("id", "time (UTC)", "method", "status", "path", "user", "client"),
        (
            (
                e.id,
                e.created_at.astimezone(UTC).isoformat(timespec="seconds"),
                e.method,
                e.status_code,
                e.path,
                e.user_id,
                e.client_ip,
            )
            for e in entries
        ),
    )
    if following is not None:
        out_console.print(f"next: --cursor {following}", highlight=False, soft_wrap=True)
