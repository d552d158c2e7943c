"""`python run.py jobs …`: the broker, the workers and the queue as the admin sees them.

(`backend/jobs.py` is the other thing named jobs: the Celery app for `celery -A
backend.jobs`. This module never builds that app, its tasks or its signals.)"""

from __future__ import annotations

from typing import Any

import typer

from app.jobs.runner import broker_status, create_celery
from app.study import exports
from backend.common import current_settings, mask_url_password, out_console, print_json, print_table
from backend.common import run as run_command

cli = typer.Typer(help="Background jobs: the broker, the workers, the queue.", no_args_is_help=True)


@cli.command("status")
def status_command(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Broker reachable, workers answering, queue length, export jobs by status."""
    current = current_settings()
    report: dict[str, Any] = {"broker": None, "reachable": None, "workers": [], "queued": None}
    if current.CELERY_BROKER_URL:
        celery = create_celery(current)
        try:
            report.update(broker_status(celery, current.CELERY_QUEUE))
        finally:
            celery.close()
        report["broker"] = mask_url_password(current.CELERY_BROKER_URL)
    report["export_jobs"] = run_command(exports.counts_by_status)
    if as_json:
        print_json(report)
    else:
        broker = report["broker"] or "none: jobs run in the web process (CELERY_BROKER_URL empty)"
        out_console.print(f"broker: {broker}", highlight=False)
        if report["broker"]:
            out_console.print(
                f"reachable: {'yes' if report['reachable'] else 'NO ' + report.get('error', '')}",
                highlight=False,
            )
            out_console.print(f"workers answering: {len(report['workers'])}", highlight=False)
            for name in report["workers"]:
                out_console.print(f"  {name}", highlight=False)
            out_console.print(
                f"queue {current.CELERY_QUEUE}: {report['queued']} waiting", highlight=False
            )
        print_table("export jobs", ["status", "jobs"], report["export_jobs"].items())
    if report["broker"] and not report["reachable"]:
        raise typer.Exit(1)
