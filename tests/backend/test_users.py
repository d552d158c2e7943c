"""`python run.py users …` on every database: success, not found, refusal, misuse."""

import json
from collections.abc import Callable
from datetime import date

from fastapi_users.password import PasswordHelper
from typer.testing import Result

from app.auth.models import AuthSession, User
from app.auth.sessions import start_session
from app.study.models import StudyRecord
from settings import Settings
from tests.backend.conftest import create_user, in_db

NEW_PASSWORD = "another long passphrase"


def _user(settings: Settings, email: str) -> User | None:
    async def work() -> User | None:
        return await User.get_or_none(email=email)

    found = in_db(settings, work)
    assert found is None or isinstance(found, User)
    return found


def _open_session(settings: Settings, user: User) -> None:
    async def work() -> None:
        await start_session(user=user, settings=settings)

    in_db(settings, work)


def _live_sessions(settings: Settings, user: User) -> int:
    async def work() -> int:
        return await AuthSession.filter(user_id=user.id, revoked_at=None).count()

    count = in_db(settings, work)
    assert isinstance(count, int)
    return count


def test_create_superuser(invoke: Callable[..., Result], cli_settings: Settings) -> None:
    result = invoke("users", "create-superuser", "Admin@Example.com", "--password", NEW_PASSWORD)
    assert result.exit_code == 0, result.output
    assert "created superuser admin@example.com" in result.stdout
    user = _user(cli_settings, "admin@example.com")
    assert user is not None
    assert user.is_superuser
    assert user.is_active
    assert user.is_verified
    assert PasswordHelper().verify_and_update(NEW_PASSWORD, user.hashed_password)[0]


def test_create_superuser_prompts_hidden_twice(
    invoke: Callable[..., Result], cli_settings: Settings
) -> None:
    result = invoke(
        "users", "create-superuser", "root@example.com", stdin=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert NEW_PASSWORD not in result.output  # hidden input is not echoed
    user = _user(cli_settings, "root@example.com")
    assert user is not None
    assert user.is_superuser


def test_create_superuser_refusals(invoke: Callable[..., Result], cli_settings: Settings) -> None:
    create_user(cli_settings, "taken@example.com")
    duplicate = invoke("users", "create-superuser", "TAKEN@example.com", "--password", NEW_PASSWORD)
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.stderr
    taken = _user(cli_settings, "taken@example.com")
    assert taken is not None
    assert not taken.is_superuser  # nothing changed

    weak = invoke("users", "create-superuser", "new@example.com", "--password", "short")
    assert weak.exit_code == 2
    assert _user(cli_settings, "new@example.com") is None
    bad_email = invoke("users", "create-superuser", "not-an-email", "--password", NEW_PASSWORD)
    assert bad_email.exit_code == 2
    assert invoke("users", "create-superuser").exit_code == 2


def test_list_as_json_and_table(invoke: Callable[..., Result], cli_settings: Settings) -> None:
    create_user(cli_settings, "first@example.com")
    create_user(cli_settings, "second@example.com")
    result = invoke("users", "list", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [u["email"] for u in listed] == ["first@example.com", "second@example.com"]
    assert all("hashed_password" not in u for u in listed)
    table = invoke("users", "list")
    assert table.exit_code == 0
    assert "second@example.com" in table.stdout
    assert "2 users" in table.stdout


def test_deactivate_ends_sessions_and_activate_restores(
    invoke: Callable[..., Result], cli_settings: Settings
) -> None:
    user = create_user(cli_settings, "dee@example.com")
    _open_session(cli_settings, user)
    assert _live_sessions(cli_settings, user) == 1

    result = invoke("users", "deactivate", "DEE@example.com")
    assert result.exit_code == 0, result.output
    changed = _user(cli_settings, "dee@example.com")
    assert changed is not None
    assert not changed.is_active
    assert _live_sessions(cli_settings, user) == 0

    assert invoke("users", "activate", "dee@example.com").exit_code == 0
    restored = _user(cli_settings, "dee@example.com")
    assert restored is not None
    assert restored.is_active


def test_set_password(invoke: Callable[..., Result], cli_settings: Settings) -> None:
    user = create_user(cli_settings, "pw@example.com")
    _open_session(cli_settings, user)
    result = invoke("users", "set-password", "pw@example.com", "--password", NEW_PASSWORD)
    assert result.exit_code == 0, result.output
    changed = _user(cli_settings, "pw@example.com")
    assert changed is not None
    assert PasswordHelper().verify_and_update(NEW_PASSWORD, changed.hashed_password)[0]
    assert _live_sessions(cli_settings, user) == 0

    weak = invoke("users", "set-password", "pw@example.com", "--password", "pw@example.com")
    assert weak.exit_code == 2  # the API's policy: not the email
    same = _user(cli_settings, "pw@example.com")
    assert same is not None
    assert same.hashed_password == changed.hashed_password


def test_unknown_email_fails_in_one_line(invoke: Callable[..., Result]) -> None:
    for command in ("activate", "deactivate"):
        result = invoke("users", command, "ghost@example.com")
        assert result.exit_code == 1
        assert result.stderr.strip() == "error: no user with email ghost@example.com"
    result = invoke("users", "set-password", "ghost@example.com", "--password", NEW_PASSWORD)
    assert result.exit_code == 1
    assert invoke("users", "delete", "ghost@example.com", "--yes").exit_code == 1


def test_delete_needs_yes_then_removes_records(
    invoke: Callable[..., Result], cli_settings: Settings
) -> None:
    user = create_user(cli_settings, "leaving@example.com")

    async def add_record() -> None:
        await StudyRecord.create(
            owner_id=user.id, subject="math", title="t", minutes=10, studied_on=date(2024, 1, 2)
        )

    in_db(cli_settings, add_record)

    refused = invoke("users", "delete", "leaving@example.com")  # no terminal, no --yes
    assert refused.exit_code == 2  # misuse: no --yes off a terminal
    assert "--yes" in refused.stderr
    assert _user(cli_settings, "leaving@example.com") is not None

    result = invoke("users", "delete", "leaving@example.com", "--yes")
    assert result.exit_code == 0, result.output
    assert _user(cli_settings, "leaving@example.com") is None

    async def records() -> int:
        return await StudyRecord.filter(owner_id=user.id).count()

    assert in_db(cli_settings, records) == 0


def test_help_lists_every_users_command(invoke: Callable[..., Result]) -> None:
    result = invoke("users", "--help")
    assert result.exit_code == 0
    for command in (
        "create-superuser",
        "list",
        "activate",
        "deactivate",
        "set-password",
        "delete",
        "set-phone",
        "clear-phone",
    ):
        assert command in result.stdout


def test_set_phone_stores_e164_and_clear_phone_removes_it(
    invoke: Callable[..., Result], cli_settings: Settings
) -> None:
    create_user(cli_settings, "phone@example.com")
    # National digits are read in SMS_DEFAULT_REGION (CN).
    result = invoke("users", "set-phone", "phone@example.com", "138 0013 8000")
    assert result.exit_code == 0, result.output
    assert "+8613800138000" in result.stdout
    user = _user(cli_settings, "phone@example.com")
    assert user is not None
    assert user.phone == "+8613800138000"
    listed = json.loads(invoke("users", "list", "--json").stdout)
    assert listed[0]["phone"] == "+8613800138000"

    assert invoke("users", "clear-phone", "phone@example.com").exit_code == 0
    cleared = _user(cli_settings, "phone@example.com")
    assert cleared is not None
    assert cleared.phone is None


def test_set_phone_refuses_a_taken_or_bad_number(
    invoke: Callable[..., Result], cli_settings: Settings
) -> None:
    create_user(cli_settings, "first@example.com")
    create_user(cli_settings, "second@example.com")
    assert invoke("users", "set-phone", "first@example.com", "+447400123456").exit_code == 0
    taken = invoke("users", "set-phone", "second@example.com", "+44 7400 123456")
    assert taken.exit_code == 1
    assert taken.stderr.strip() == (
        "error: another account already has the phone number +447400123456"
    )
    bad = invoke("users", "set-phone", "second@example.com", "12345")
    assert bad.exit_code == 2
    assert "not a valid phone number" in bad.stderr
    second = _user(cli_settings, "second@example.com")
    assert second is not None
    assert second.phone is None
    assert invoke("users", "set-phone", "ghost@example.com", "+447400123457").exit_code == 1


def test_every_changing_command_reports_json(
    invoke: Callable[..., Result], cli_settings: Settings
) -> None:
    """`--json` on each command that changes an account: the account after the change (the
    API's user object), or what was deleted; nothing else on stdout."""
    created = invoke(
        "users", "create-superuser", "json@example.com", "--password", NEW_PASSWORD, "--json"
    )
    assert created.exit_code == 0, created.output
    user = json.loads(created.stdout)
    assert (user["email"], user["is_superuser"], user["is_verified"]) == (
        "json@example.com",
        True,
        True,
    )
    assert "hashed_password" not in user
    steps: list[tuple[tuple[str, ...], dict[str, object]]] = [
        (("deactivate", "json@example.com"), {"is_active": False}),
        (("activate", "json@example.com"), {"is_active": True}),
        (("set-password", "json@example.com", "--password", NEW_PASSWORD * 2), {}),
        (("set-phone", "json@example.com", "+8613800138000"), {"phone": "+8613800138000"}),
        (("clear-phone", "json@example.com"), {"phone": None}),
    ]
    for args, expected in steps:
        result = invoke("users", *args, "--json")
        assert result.exit_code == 0, (args, result.output)
        body = json.loads(result.stdout)
        assert body["id"] == user["id"], args
        assert {key: body[key] for key in expected} == expected, args
    deleted = invoke("users", "delete", "json@example.com", "--yes", "--json")
    assert deleted.exit_code == 0, deleted.output
    assert json.loads(deleted.stdout) == {
        "deleted": {"id": user["id"], "email": "json@example.com"}
    }
    assert _user(cli_settings, "json@example.com") is None
