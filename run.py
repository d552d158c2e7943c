"""The admin command line: `python run.py --help`. Each group lives in backend/."""

import sys

import typer

from backend import audit, check, db, demo, job_commands, study, users
from backend.common import main

cli = typer.Typer(
    help="Study Log administration. Exit codes: 0 success, 1 failure, 2 misuse.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
cli.add_typer(db.cli, name="db")
cli.add_typer(users.cli, name="users")
cli.add_typer(audit.cli, name="audit")
cli.add_typer(study.cli, name="study")
cli.add_typer(demo.cli, name="demo")
cli.add_typer(job_commands.cli, name="jobs")
cli.command("check")(check.check_command)
cli.command("serve")(check.serve_command)

if __name__ == "__main__":
    sys.exit(main(cli))
