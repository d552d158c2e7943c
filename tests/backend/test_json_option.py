"""`--json` on every admin command, as the contract says (mutating ones and file writers
included): only `serve`, which runs a server and reports nothing, goes without."""

from __future__ import annotations

from typing import Any

import typer

from run import cli

WITHOUT_JSON = {"serve"}


def _commands(command: Any, path: tuple[str, ...] = ()) -> dict[str, Any]:
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        return {" ".join(path): command}
    found = {}
    for name, sub in subcommands.items():
        found.update(_commands(sub, (*path, name)))
    return found


def test_every_command_but_serve_takes_json() -> None:
    commands = _commands(typer.main.get_command(cli))
    assert {"db upgrade", "db downgrade", "study export", "audit export"} <= set(commands)
    lacking = {
        name
        for name, command in commands.items()
        if not any("--json" in getattr(param, "opts", ()) for param in command.params)
    }
    assert lacking == WITHOUT_JSON
