"""`python run.py audit partitions [ensure]`: the audit table's day partitions."""

from __future__ import annotations

import typer

from app.audit import partitions
from app.audit.partitions import Partition
from backend.common import current_settings, out_console, print_json, print_table, run

cli = typer.Typer(
    help="The audit table's day partitions (PostgreSQL, MySQL): list them, or make the window.",
    invoke_without_command=True,
)


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(count)  # not reached


def _row(partition: Partition) -> tuple[str, str, str, str, str]:
    return (
        partition.name,
        f"{partition.start:%Y-%m-%d %H:%M}" if partition.start else "(the beginning)",
        f"{partition.end:%Y-%m-%d %H:%M}" if partition.end else "(no end)",
        "unknown" if partition.rows is None else f"{partition.rows:,}",
        _size(partition.bytes),
    )


def show(found: list[Partition], *, as_json: bool, title: str) -> None:
    if as_json:
        print_json([p.as_dict() for p in found])
    elif not found:
        out_console.print("no partitions: the table is not partitioned (SQLite keeps one table)")
    else:
        print_table(
            title, ("name", "from (UTC)", "to (UTC)", "rows (estimate)", "size"), map(_row, found)
        )


@cli.callback()
def listing_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List the partitions, oldest first, with row estimates and sizes."""
    if ctx.invoked_subcommand is not None:
        return
    show(run(partitions.listing), as_json=as_json, title="audit partitions")


@cli.command("ensure")
def ensure_command(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Make the partitions of the window now: AUDIT_RETENTION_DAYS back (or today when it
    keeps everything) to AUDIT_PARTITIONS_AHEAD_DAYS ahead."""
    settings = current_settings()
    made = run(
        lambda: partitions.ensure(
            back_days=settings.AUDIT_RETENTION_DAYS,
            ahead_days=settings.AUDIT_PARTITIONS_AHEAD_DAYS,
            analyze=True,
        )
    )
    if as_json:
        print_json({"made": made})
    else:
        out_console.print(f"made {len(made)} partitions" + (f": {', '.join(made)}" if made else ""))
