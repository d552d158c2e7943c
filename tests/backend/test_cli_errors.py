"""The admin CLI as an admin meets it (`python run.py …` in a process of its own): every
failure is one `error: …` line with exit 1 (failure) or 2 (misuse), and a password comes
through a pipe without terminal warnings."""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys

import pytest
from fastapi_users.password import PasswordHelper

from settings import BASE_DIR, Settings
from tests.fixtures import services

PASSWORD = "correct horse battery"

# Every environment name a setting reads.
SETTING_NAMES = frozenset(Settings.model_fields)

# Each test runs `python run.py …` in a process of its own.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite://{tmp_path_factory.mktemp('cli')}/cli.db"
    result = _cli("db", "upgrade", url=url)
    assert result.returncode == 0, result.stderr
    return url


def _cli(
    *args: str, url: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    clean.update({"DATABASE_URL": url, "APP_ENV": "test", **env})
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "run.py"), *args],
        cwd=BASE_DIR,
        env=clean,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert "Usage:" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ("nope",),
        ("users", "nope"),
        ("users", "list", "--bogus"),
        ("users", "create-superuser", "not-an-email", "--password", PASSWORD),
        ("study", "stats", "--user", "a@example.com", "--from", "2026-13-01"),
        ("audit", "purge", "--older-than-days", "many"),
        ("demo", "seed", "--prefix", "no spaces"),
    ],
)
def test_misuse_is_one_error_line_and_exit_2(args: tuple[str, ...], database: str) -> None:
    result = _cli(*args, url=database)
    assert result.returncode == 2
    line = _one_error_line(result)
    assert "--help" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("users", "delete", "nobody@example.com", "--yes"), "no user with email"),
        (("users", "delete", "nobody@example.com"), "--yes"),
        (("db", "downgrade"), "--yes"),
        (("users", "create-superuser", "x@example.com", "--password", "short"), "--password"),
    ],
)
def test_a_failure_is_one_error_line_and_exit_1_or_2(
    args: tuple[str, ...], expected: str, database: str
) -> None:
    result = _cli(*args, url=database)
    assert result.returncode in {1, 2}
    assert expected in _one_error_line(result)


def test_an_unreachable_database_is_one_error_line(database: str) -> None:
    del database
    for args in (("db", "upgrade"), ("users", "list"), ("check",)):
        result = _cli(*args, url="postgres://nobody@127.0.0.1:1/none")
        assert result.returncode == 1, args
        _one_error_line(result)


def _hash_of(url: str, email: str) -> str:
    with sqlite3.connect(url.removeprefix("sqlite://")) as conn:
        row = conn.execute(
            'SELECT hashed_password FROM "user" WHERE email = ?', (email,)
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_a_password_is_read_from_a_pipe_without_warnings(database: str) -> None:
    created = _cli(
        "users", "create-superuser", "piped@example.com", url=database, stdin=PASSWORD + "\n"
    )
    assert created.returncode == 0, created.stderr
    assert created.stderr == ""  # no getpass "cannot control echo" warning, no prompt
    assert "created superuser piped@example.com" in created.stdout
    verified, _ = PasswordHelper().verify_and_update(
        PASSWORD, _hash_of(database, "piped@example.com")
    )
    assert verified

    changed = _cli(
        "users", "set-password", "piped@example.com", url=database, stdin="another secret pw\n"
    )
    assert changed.returncode == 0, changed.stderr
    assert changed.stderr == ""
    verified, _ = PasswordHelper().verify_and_update(
        "another secret pw", _hash_of(database, "piped@example.com")
    )
    assert verified

    empty = _cli("users", "create-superuser", "nopw@example.com", url=database, stdin="")
    assert empty.returncode == 2
    assert "--password" in _one_error_line(empty)


def test_demo_seed_refuses_production_without_yes(database: str) -> None:
    production = {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "REDIS_URL": services.REDIS_URL,
        "MAIL_BACKEND": "none",
    }
    args = ("demo", "seed", "--users", "1", "--records-per-user", "2", "--prefix", "prodseed")
    refused = _cli(*args, url=database, **production)
    assert refused.returncode == 2  # misuse: no --yes off a terminal
    assert "--yes" in _one_error_line(refused)
    with sqlite3.connect(database.removeprefix("sqlite://")) as conn:
        seeded = conn.execute(
            "SELECT count(*) FROM \"user\" WHERE email LIKE 'prodseed-%'"
        ).fetchone()[0]
    assert seeded == 0

    allowed = _cli(*args, "--yes", url=database, **production)
    assert allowed.returncode == 0, allowed.stderr
    # The shared demo password is never printed in production.
    assert "created 1 users" in allowed.stdout
    assert "password" not in (allowed.stdout + allowed.stderr).lower()
    developer = _cli(*args, "--prefix", "devseed", url=database)
    assert developer.returncode == 0, developer.stderr
    assert "demo-password" in developer.stdout
    with sqlite3.connect(database.removeprefix("sqlite://")) as conn:
        seeded = conn.execute(
            "SELECT count(*) FROM \"user\" WHERE email LIKE 'prodseed-%'"
        ).fetchone()[0]
    assert seeded == 1


def test_a_destructive_command_off_a_terminal_without_yes_is_misuse(database: str) -> None:
    result = _cli("users", "delete", "someone@example.com", url=database, stdin="")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "error: refusing without --yes when not interactive"


@pytest.mark.parametrize("command", [(), ("audit", "purge"), ("users", "delete")])
def test_help_shows_flags_without_a_value_type(database: str, command: tuple[str, ...]) -> None:
    result = _cli(*command, "--help", url=database, COLUMNS="120")
    assert result.returncode == 0, result.stderr
    assert "--help" in result.stdout
    assert "<bool>" not in result.stdout
