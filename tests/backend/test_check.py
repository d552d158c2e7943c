"""`python run.py check`: settings masked, services reachable, migrations applied."""

import json
from collections.abc import Callable

import pytest
from typer.testing import CliRunner, Result

import settings as settings_module
from backend.check import masked_settings
from run import cli
from settings import Settings
from tests.conftest import TEST_SECRET_KEY


def test_check_passes_on_a_migrated_database(invoke: Callable[..., Result]) -> None:
    result = invoke("check", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True
    assert report["checks"]["database"] == "ok"
    assert report["checks"]["migrations"] == "ok"
    assert report["settings"]["SECRET_KEY"] == "***"
    assert TEST_SECRET_KEY not in result.output


def test_check_fails_when_the_database_is_unreachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        settings_module,
        "settings",
        Settings(
            DATABASE_URL="postgres://u:hunter2@127.0.0.1:1/none", DB_CONNECT_TIMEOUT_SECONDS=1
        ),
    )
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 1
    assert "database" in result.output
    assert "hunter2" not in result.output


def test_secrets_are_masked_in_urls() -> None:
    shown = masked_settings(
        Settings(
            DATABASE_URL="mysql://app:pa55word@db:3306/x",
            REDIS_URL="redis://:r3dis@cache:6379/0",
            SMTP_PASSWORD="mail-secret",
            ALIYUN_ACCESS_KEY_SECRET="sms-secret",
        )
    )
    assert shown["DATABASE_URL"] == "mysql://app:***@db:3306/x"
    assert "r3dis" not in shown["REDIS_URL"]
    assert shown["SMTP_PASSWORD"] == "***"
    assert shown["ALIYUN_ACCESS_KEY_SECRET"] == "***"


def test_settings_that_depend_on_the_environment_are_shown_resolved() -> None:
    """Unset, each of these has a default that depends on APP_ENV: shown as in effect."""
    development = masked_settings(Settings(APP_ENV="development"))
    assert development["SMS_BACKEND"] == "log"
    assert development["LOG_FORMAT"] == "text"
    assert development["DOCS_ENABLED"] is True
    assert None not in (development["SMS_BACKEND"], development["ALLOWED_HOSTS"])
    chosen = masked_settings(Settings(APP_ENV="development", SMS_BACKEND="none"))
    assert chosen["SMS_BACKEND"] == "none"


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("redis://:p@ss@127.0.0.1:1/0", ["p@ss", "ss@"]),
        ("redis://app:a:b/c@127.0.0.1:1/0", ["a:b/c"]),
        ("redis://127.0.0.1:1/0?password=hunter22&db=0", ["hunter22"]),
        ("redis://u@127.0.0.1:1/0?db=0;PASSWORD=hunter22", ["hunter22"]),
    ],
)
def test_check_masks_every_credential_form(
    monkeypatch: pytest.MonkeyPatch, url: str, secrets: list[str]
) -> None:
    monkeypatch.setattr(
        settings_module,
        "settings",
        Settings(REDIS_URL=url, CELERY_BROKER_URL=url.replace("redis://", "amqp://")),
    )
    result = CliRunner().invoke(cli, ["check", "--json"])
    assert result.exit_code == 1  # Redis does not answer at port 1
    for secret in secrets:
        assert secret not in result.output
    shown = json.loads(result.stdout)["settings"]
    assert "127.0.0.1:1/0" in shown["REDIS_URL"]
    assert "***" in shown["REDIS_URL"]
