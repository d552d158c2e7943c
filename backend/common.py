"""What every command group shares: one asyncio.run with Tortoise around it, and output."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from tortoise import Tortoise
from tortoise.exceptions import BaseORMException

# typer (0.29) carries its own copy of click; its exceptions are the ones raised here.
from typer._click import exceptions as click_exceptions

import settings as settings_module
from app.platform.redact import mask_url
from settings import Settings

T = TypeVar("T")

err_console = Console(stderr=True)
out_console = Console()


def mask_url_password(text: str) -> str:
    """`text` with every credential of any URL in it replaced by *** (the user information,
    a password holding `@` included, and secret-named query values such as `?password=`)."""
    return mask_url(text)


class CommandError(Exception):
    """A failure the admin should read as one line (exit 1)."""


def current_settings() -> Settings:
    """The settings commands run with (tests point this at their database)."""
    return settings_module.settings


def error_line(message: str) -> None:
    """One `error: …` line on stderr, whatever line breaks the message carries."""
    text = " ".join(str(message).split()) or "failed"
    err_console.print(f"[red]error:[/red] {escape(text)}", highlight=False, soft_wrap=True)


def fail(message: str, *, code: int = 1) -> NoReturn:
    """One `error: …` line, then exit 1 (a failure) or `code` (2: misuse)."""
    error_line(message)
    raise typer.Exit(code)


def _valueless_flags(command: Any) -> None:
    """A flag takes no value, so its help shows none (typer's would say `<bool>`), the
    help option's included."""
    for param in getattr(command, "params", ()):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    help_option = command.get_help_option

    def quiet_help_option(ctx: Any) -> Any:
        option = help_option(ctx)
        if option is not None and option.metavar is None:
            option.metavar = ""
        return option

    command.get_help_option = quiet_help_option
    for sub in getattr(command, "commands", {}).values():
        _valueless_flags(sub)


def main(app: typer.Typer, args: Sequence[str] | None = None) -> int:
    """Runs the command line; the exit code. Misuse (exit 2), a refusal or a failure (exit 1)
    ends in one `error: …` line, not a usage box or a bare `Aborted!`."""
    command = typer.main.get_command(app)
    _valueless_flags(command)
    try:
        result = command.main(args=args, prog_name="run.py", standalone_mode=False)
    except click_exceptions.NoArgsIsHelpError:
        return 2  # the group's help is printed already
    except click_exceptions.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        error_line(exc.format_message() + hint)
        return 2
    except click_exceptions.ClickException as exc:
        error_line(exc.format_message())
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt, EOFError):
        error_line("aborted")
        return 1
    return result if isinstance(result, int) else 0


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Runs one command's async work in one event loop, with Tortoise open around it."""

    async def main() -> T:
        await Tortoise.init(config=current_settings().tortoise_config())
        try:
            return await work()
        finally:
            await Tortoise.close_connections()

    try:
        return asyncio.run(main())
    except CommandError as exc:
        fail(str(exc))
    except (BaseORMException, OSError, TimeoutError) as exc:
        fail(f"database error: {exc}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")


def json_option() -> Any:
    """The `--json` flag every command that reports or changes something takes."""
    return typer.Option(False, "--json", help="Machine-readable output.")


def report(as_json: bool, data: Any, text: str) -> None:
    """What a command did: `data` as JSON with `--json`, otherwise one line of `text`."""
    if as_json:
        print_json(data)
    else:
        out_console.print(text, highlight=False)


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    out_console.print(table)


def require_yes(yes: bool, question: str) -> None:
    """Destructive commands ask; without a terminal they need --yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        fail("refusing without --yes when not interactive", code=2)  # misuse: exit 2
    if not typer.confirm(question, default=False):
        fail("aborted")
