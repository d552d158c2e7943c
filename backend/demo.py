"""`python run.py demo …`: bulk demo data for trying the service out and for benchmarks."""

from __future__ import annotations

import random
import time
from contextlib import nullcontext
from datetime import UTC, date, datetime, timedelta

import typer
from fastapi_users.password import PasswordHelper
from rich.progress import Progress
from tortoise.functions import Count

from app.auth.models import User
from app.study.models import StudyRecord
from app.study.records import create_many
from backend.common import current_settings, out_console, print_json, require_yes, run

cli = typer.Typer(help="Demo data.", no_args_is_help=True)

DEMO_PASSWORD = "demo-password"  # noqa: S105  (demo accounts, printed for the admin)
SUBJECTS = ("Mathematics", "Physics", "Chemistry", "Biology", "History", "Spanish", "Python")
TOPICS = ("chapter review", "exercises", "lecture notes", "flash cards", "past paper", "project")
BATCH_SIZE = 2_000


def _records(owner: User, count: int, rng: random.Random, today: date) -> list[StudyRecord]:
    now = datetime.now(UTC)
    return [
        StudyRecord(
            owner=owner,
            subject=(subject := rng.choice(SUBJECTS)),
            title=f"{subject} {rng.choice(TOPICS)} {i + 1}",
            minutes=rng.randint(10, 180),
            studied_on=today - timedelta(days=rng.randint(0, 120)),
            notes="",
            created_at=now,
            updated_at=now,
        )
        for i in range(count)
    ]


async def seed(
    *, users: int, records_per_user: int, prefix: str, seed_value: int, progress: Progress | None
) -> tuple[int, int]:
    """Creates users `{prefix}-{n}@example.com` with records; existing emails are reused.
    Idempotent: each user is topped up to `records_per_user` records, so a second run (or
    one after an interrupted run) adds only what is missing, never duplicates."""
    rng = random.Random(seed_value)  # noqa: S311  (demo data, not security)
    hashed = PasswordHelper().hash(DEMO_PASSWORD)  # one hash for all: argon2 is slow on purpose
    emails = [f"{prefix}-{n}@example.com" for n in range(1, users + 1)]
    existing = {u.email: u for u in await User.filter(email__in=emails)}
    new = [
        User(
            email=email, hashed_password=hashed, display_name=email.split("@")[0], is_verified=True
        )
        for email in emails
        if email not in existing
    ]
    if new:
        await User.bulk_create(new, batch_size=BATCH_SIZE)
    owners = await User.filter(email__in=emails).order_by("email")
    have = {
        row["owner_id"]: row["records"]
        for row in await StudyRecord.filter(owner_id__in=[o.id for o in owners])
        .annotate(records=Count("id"))
        .group_by("owner_id")
        .values("owner_id", "records")
    }
    missing = {o.id: max(0, records_per_user - have.get(o.id, 0)) for o in owners}
    task = progress.add_task("records", total=sum(missing.values())) if progress else None
    today = datetime.now(UTC).date()
    created = 0
    pending: list[StudyRecord] = []
    for owner in owners:
        pending.extend(_records(owner, missing[owner.id], rng, today))
        if pending and (len(pending) >= BATCH_SIZE or owner is owners[-1]):
            # Through the service: the users' counts and per-day rollup stay exact.
            created += await create_many(pending, batch_size=BATCH_SIZE)
            if progress and task is not None:
                progress.update(task, advance=len(pending))
            pending = []
    return len(new), created


@cli.command("seed")
def seed_command(
    users: int = typer.Option(10, "--users", min=1, max=100_000, help="How many demo users."),
    records_per_user: int = typer.Option(
        100, "--records-per-user", min=0, max=100_000, help="Study records for each."
    ),
    prefix: str = typer.Option("demo", "--prefix", help="Emails are PREFIX-N@example.com."),
    seed_value: int = typer.Option(1, "--seed", help="Random seed, for repeatable data."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    yes: bool = typer.Option(
        False, "--yes", help="Seed even in production (APP_ENV=production asks, or needs this)."
    ),
) -> None:
    """Bulk-insert demo users and study records, with a progress bar."""
    if not prefix.replace("-", "").isalnum():
        raise typer.BadParameter("letters, digits and '-' only", param_hint="--prefix")
    if current_settings().is_production:
        # Demo accounts share one published password: never slipped into production.
        require_yes(yes, "APP_ENV is production: add demo accounts with a known password?")
    started = time.perf_counter()

    async def work() -> tuple[int, int]:
        # A progress bar for people; none in JSON mode, where the output is read by code.
        with (
            nullcontext(None) if as_json else Progress(console=out_console, transient=True)
        ) as progress:
            return await seed(
                users=users,
                records_per_user=records_per_user,
                prefix=prefix,
                seed_value=seed_value,
                progress=progress,
            )

    new_users, records = run(work)
    seconds = round(time.perf_counter() - started, 2)
    if as_json:
        print_json({"users_created": new_users, "records_created": records, "seconds": seconds})
        return
    # The shared password is printed for a developer trying the service, never in
    # production, where terminal output ends up in logs and tickets.
    password = (
        "" if current_settings().is_production else f" (password for demo users: {DEMO_PASSWORD})"
    )
    out_console.print(
        f"created {new_users} users and {records} study records in {seconds} s{password}",
        highlight=False,
    )
