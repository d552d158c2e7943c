"""`python run.py users …`: accounts, through the same UserManager the API uses.

So the CLI applies the API's password policy, and the same changes end login sessions:
a new password or deactivation revokes them, deletion removes the account with its study
records and sessions and clears it from the audit trail.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import typer
from fastapi_users import exceptions
from pydantic import EmailStr, TypeAdapter, ValidationError

from app import flows
from app.auth.models import User
from app.platform.phone import InvalidPhoneNumber, normalize_phone
from app.platform.store import create_store
from app.users import phone as phone_service
from app.users.adapter import TortoiseUserDatabase, normalize_email
from app.users.errors import PhoneTaken
from app.users.manager import UserManager
from app.users.schemas import SuperuserCreate, UserRead, UserUpdate
from backend.common import (
    CommandError,
    current_settings,
    json_option,
    print_json,
    print_table,
    report,
    require_yes,
    run,
)

T = TypeVar("T")
_EMAIL = TypeAdapter(EmailStr)

cli = typer.Typer(
    help="Accounts: create superusers, list, (de)activate, set passwords and phones, delete.",
    no_args_is_help=True,
)

EMAIL_ARGUMENT = typer.Argument(..., help="The account's email (compared case-insensitively).")


def _ask_password(value: str | None) -> str:
    """--password, else asked for at a terminal (hidden, twice), else the first line of
    stdin (`… | python run.py users create-superuser …`), so nothing warns about echo."""
    if value is not None:
        return value
    if sys.stdin.isatty():
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise typer.BadParameter(
            "none given: pass --password, type it at a terminal or pipe it on one line",
            param_hint="'--password'",
        )
    return line


def _password_option(help_text: str) -> typer.models.OptionInfo:
    return typer.Option(
        None,
        "--password",
        callback=_ask_password,
        show_default=False,
        help=f"{help_text} Left out, it is asked for (hidden, twice) at a terminal or read "
        "from the first line of a pipe, which keeps it out of the shell history.",
    )


@asynccontextmanager
async def _manager() -> AsyncIterator[UserManager]:
    """The API's manager, with the shared store: what the CLI changes, every worker's
    session cache forgets at once."""
    settings = current_settings()
    store = create_store(settings.REDIS_URL, prefix=settings.REDIS_KEY_PREFIX)
    try:
        yield UserManager(
            TortoiseUserDatabase(), settings, store=store, remove_account=flows.remove_account
        )
    finally:
        await store.close()


async def _get_user(manager: UserManager, email: str) -> User:
    try:
        return await manager.get_by_email(email)
    except exceptions.UserNotExists as exc:
        raise CommandError(f"no user with email {normalize_email(email)}") from exc


def _bad_password(exc: exceptions.InvalidPasswordException) -> typer.BadParameter:
    return typer.BadParameter(str(exc.reason), param_hint="'--password'")


def _with_user(email: str, change: Callable[[UserManager, User], Awaitable[T]]) -> T:
    """Runs `change` on the account of `email`; an unknown email fails in one line."""

    async def work() -> T:
        async with _manager() as manager:
            return await change(manager, await _get_user(manager, email))

    return run(work)


def _email_address(value: str) -> str:
    """The argument as a valid, normalised address (checked before any password prompt)."""
    try:
        return normalize_email(_EMAIL.validate_python(value))
    except ValidationError as exc:
        raise typer.BadParameter(exc.errors()[0]["msg"]) from exc


@cli.command("create-superuser")
def create_superuser_command(
    email: str = typer.Argument(..., callback=_email_address, help="The new account's email."),
    password: str = _password_option("The new account's password."),
    display_name: str = typer.Option(
        "", "--display-name", help="Shown name (optional, up to 100 characters)."
    ),
    as_json: bool = json_option(),
) -> None:
    """Create an active, verified superuser account (the API's password rules apply)."""
    try:
        user_in = SuperuserCreate(
            email=email,
            password=password,
            display_name=display_name,
            is_superuser=True,
            is_verified=True,  # an admin's own address: no verification mail
        )
    except ValidationError as exc:  # lengths: the email is checked already
        error = exc.errors()[0]
        option = "--display-name" if error["loc"] == ("display_name",) else "--password"
        raise typer.BadParameter(error["msg"], param_hint=f"'{option}'") from exc

    async def work() -> User:
        try:
            async with _manager() as manager:
                return await manager.create(user_in, safe=False)
        except exceptions.UserAlreadyExists as exc:
            raise CommandError(f"a user with email {user_in.email} already exists") from exc
        except exceptions.InvalidPasswordException as exc:
            raise _bad_password(exc) from exc

    user = run(work)
    report(as_json, _user_json(user), f"created superuser {user.email} ({user.id})")


@cli.command("list")
def list_command(
    as_json: bool = json_option(),
) -> None:
    """Every account, oldest first."""

    async def work() -> list[UserRead]:
        return [UserRead.model_validate(u) for u in await User.all().order_by("created_at", "id")]

    users = run(work)
    if as_json:
        print_json([u.model_dump(mode="json") for u in users])
        return
    # Narrow enough for 80 columns; --json has every field, the id too.
    print_table(
        f"{len(users)} users",
        ("email", "name", "active", "admin", "verified", "created"),
        (
            (
                u.email,
                u.display_name,
                _yes_no(u.is_active),
                _yes_no(u.is_superuser),
                _yes_no(u.is_verified),
                u.created_at.date().isoformat(),
            )
            for u in users
        ),
    )


def _user_json(user: User) -> dict[str, Any]:
    """An account as `--json` prints it: the API's user object."""
    return UserRead.model_validate(user).model_dump(mode="json")


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _set_active(email: str, *, active: bool) -> User:
    """Through the manager, so deactivating ends the account's login sessions too."""

    async def change(manager: UserManager, user: User) -> User:
        return await manager.update(UserUpdate(is_active=active), user, safe=False)

    return _with_user(email, change)


@cli.command("activate")
def activate_command(email: str = EMAIL_ARGUMENT, as_json: bool = json_option()) -> None:
    """Let the account log in again."""
    user = _set_active(email, active=True)
    report(as_json, _user_json(user), f"activated {user.email}")


@cli.command("deactivate")
def deactivate_command(email: str = EMAIL_ARGUMENT, as_json: bool = json_option()) -> None:
    """Stop the account from logging in and end its login sessions now."""
    user = _set_active(email, active=False)
    report(as_json, _user_json(user), f"deactivated {user.email}; its login sessions are ended")


@cli.command("set-password")
def set_password_command(
    email: str = EMAIL_ARGUMENT,
    password: str = _password_option("The new password."),
    as_json: bool = json_option(),
) -> None:
    """Set a new password; the account's login sessions end."""

    async def change(manager: UserManager, user: User) -> User:
        try:
            return await manager.update(UserUpdate(password=password), user, safe=False)
        except exceptions.InvalidPasswordException as exc:
            raise _bad_password(exc) from exc

    user = _with_user(email, change)
    report(
        as_json, _user_json(user), f"password of {user.email} changed; its login sessions are ended"
    )


@cli.command("delete")
def delete_command(
    email: str = EMAIL_ARGUMENT,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    as_json: bool = json_option(),
) -> None:
    """Delete the account and its study records; its audit entries stay, unattributed."""
    require_yes(yes, f"Delete {normalize_email(email)} and all of its study records?")

    async def change(manager: UserManager, user: User) -> dict[str, str]:
        await manager.delete(user)
        return {"id": str(user.id), "email": user.email}

    deleted = _with_user(email, change)
    report(as_json, {"deleted": deleted}, f"deleted {deleted['email']}")


def _phone_argument(value: str) -> str:
    """The argument in E.164 (checked before the database is opened)."""
    try:
        return normalize_phone(value, default_region=current_settings().SMS_DEFAULT_REGION)
    except InvalidPhoneNumber as exc:
        raise typer.BadParameter(str(exc)) from exc


@cli.command("set-phone")
def set_phone_command(
    email: str = EMAIL_ARGUMENT,
    phone: str = typer.Argument(
        ...,
        callback=_phone_argument,
        help="The number: +country code, or national digits in SMS_DEFAULT_REGION.",
    ),
    as_json: bool = json_option(),
) -> None:
    """Bind a phone number to the account without an SMS code."""

    async def change(manager: UserManager, user: User) -> User:
        try:
            return await phone_service.set_phone(
                user=user, phone=phone, store=manager.store, settings=manager.settings
            )
        except PhoneTaken as exc:
            raise CommandError(f"another account already has the phone number {phone}") from exc

    user = _with_user(email, change)
    report(as_json, _user_json(user), f"phone of {user.email} set to {user.phone}")


@cli.command("clear-phone")
def clear_phone_command(email: str = EMAIL_ARGUMENT, as_json: bool = json_option()) -> None:
    """Remove the account's phone number (it can no longer log in with an SMS code)."""

    async def change(manager: UserManager, user: User) -> User:
        return await phone_service.set_phone(
            user=user, phone=None, store=manager.store, settings=manager.settings
        )

    user = _with_user(email, change)
    report(as_json, _user_json(user), f"phone of {user.email} cleared")
