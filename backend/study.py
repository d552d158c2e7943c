"""`python run.py study …`: one user's records to a file, and statistics.

Both call the service behind the API: an export file holds exactly the bytes the API's
export streams, and the statistics are the same database aggregates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import typer

from app.auth.models import User
from app.study.formats import EXPORTERS
from app.study.records import NO_FILTERS, scoped
from app.study.schemas import DEFAULT_ORDER_BY, OrderByKey, StudyStats, utc_today
from app.study.stats import RangeTooLong, summarize, window
from app.users.adapter import TortoiseUserDatabase, normalize_email
from backend.audit import ExportFormat, Write, format_option, output_option, write_export
from backend.common import (
    CommandError,
    current_settings,
    json_option,
    out_console,
    print_json,
    print_table,
    run,
)

cli = typer.Typer(help="Study records: export a user's records, statistics.", no_args_is_help=True)


async def _user(email: str) -> User:
    user = await TortoiseUserDatabase().get_by_email(email)
    if user is None:
        raise CommandError(f"no user with email {normalize_email(email)}")
    return user


@cli.command("export")
def export_command(
    email: str = typer.Option(..., "--user", metavar="EMAIL", help="Whose records."),
    export_format: ExportFormat = format_option(),
    output: Path = output_option(),
    order_by: OrderByKey = typer.Option(
        DEFAULT_ORDER_BY,
        "--order-by",
        help="The list's sort keys (a leading '-' sorts descending; write --order-by=-minutes).",
    ),
    as_json: bool = json_option(),
) -> None:
    """Write a user's records to a file, in the API's export format and order."""

    async def produce(write: Write) -> tuple[User, int]:
        user = await _user(email)
        count = await scoped(owner_id=user.id).count()
        chunks: AsyncIterator[str] = EXPORTERS[export_format](
            owner_id=user.id, filters=NO_FILTERS, order_by=order_by
        )
        async for text in chunks:
            write(text)
        return user, count

    owner, count = write_export(output, produce)
    if as_json:
        print_json(
            {
                "output": str(output.resolve()),
                "format": export_format,
                "user": {"id": str(owner.id), "email": owner.email},
                "order_by": order_by,
                "count": count,
                "bytes": output.stat().st_size,
            }
        )
    else:
        out_console.print(
            f"wrote {count} study records of {owner.email} to {output}", highlight=False
        )


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


@cli.command("stats")
def stats_command(
    email: str | None = typer.Option(
        None, "--user", metavar="EMAIL", help="One user's records (default: everyone's)."
    ),
    studied_from: date | None = typer.Option(
        None, "--from", parser=_day, metavar="DATE", help="First day counted (inclusive)."
    ),
    studied_to: date | None = typer.Option(
        None, "--to", parser=_day, metavar="DATE", help="Last day counted (inclusive)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output, per day too."),
) -> None:
    """Minutes, records, streaks and a per-subject breakdown, as GET /study-records/stats."""
    if studied_from and studied_to and studied_to < studied_from:
        raise typer.BadParameter("must not be before --from", param_hint="'--to'")
    try:
        period = window(
            studied_from=studied_from,
            studied_to=studied_to,
            today=utc_today(),
            max_days=current_settings().STATS_MAX_DAYS,
        )
    except RangeTooLong as exc:
        raise typer.BadParameter(f"{exc} (STATS_MAX_DAYS)", param_hint="'--from'") from None

    async def work() -> tuple[str, StudyStats]:
        user = await _user(email) if email is not None else None
        stats = await summarize(owner_id=user.id if user else None, period=period)
        return (user.email if user else "all users"), stats

    whose, stats = run(work)
    if as_json:
        print_json(stats.model_dump(mode="json"))
        return
    span = f", {period.first} to {period.last}" if period.ranged else ", every record"
    print_table(
        f"Study stats: {whose}{span}",
        ("", "value"),
        (
            ("total minutes", stats.total_minutes),
            ("records", stats.record_count),
            ("longest streak (days)", stats.longest_streak_days),
            ("current streak (days)", stats.current_streak_days),
        ),
    )
    print_table(
        "By subject",
        ("subject", "minutes", "records"),
        ((s.subject, s.minutes, s.records) for s in stats.by_subject),
    )
