"""fastapi-users' database adapter for Tortoise (the library dropped its own in v10)."""

import unicodedata
import uuid
from typing import Any

from fastapi_users.db import BaseUserDatabase
from fastapi_users.exceptions import UserAlreadyExists
from tortoise.exceptions import IntegrityError

from app.auth.models import User


def normalize_email(email: str) -> str:
    """The stored and compared form of an email: trimmed, lower case, Unicode NFC.

    The column compares it code point by code point on every database (utf8mb4_bin on
    MySQL), so `víctim@` is never `victim@`, while the same letters typed precomposed or
    with a combining accent are one address. No case folding beyond `lower()` (`ß` is not
    `ss`): addresses stored before keep matching.
    """
    return unicodedata.normalize("NFC", email.strip().lower())


class EmailTakenError(UserAlreadyExists):
    """Another account already has this email (lost a race past the manager's own check).

    It is the manager's UserAlreadyExists, so the routes answer it with their 400 code.
    """


# Stands for the email among a statement's parameters (compared by identity).
_EMAIL = "\x00email\x00"
_BY_EMAIL: dict[str, tuple[str, list[Any]]] = {}


def _by_email_statement(dialect: str) -> tuple[str, list[Any]]:
    """The ORM's `User.get_or_none(email=…)` for `dialect`, as SQL and its parameters
    (the email among them as `_EMAIL`)."""
    statement = _BY_EMAIL.get(dialect)
    if statement is None:
        selection = User.filter(email=_EMAIL).limit(2)
        selection.sql()  # builds `selection.query` for the dialect
        sql, params = selection.query.get_parameterized_sql()
        statement = _BY_EMAIL[dialect] = (sql, [_EMAIL if p == _EMAIL else p for p in params])
    return statement


# The OAuth account methods stay fastapi-users' NotImplementedError: this service has no OAuth.
class TortoiseUserDatabase(BaseUserDatabase[User, uuid.UUID]):  # pylint: disable=abstract-method
    """Reads and writes `User` rows for fastapi-users' manager."""

    async def get(self, id: uuid.UUID) -> User | None:
        return await User.get_or_none(id=id)

    async def get_by_email(self, email: str) -> User | None:
        """The account with this email (normalised), or None. Every login asks: the
        statement is built by the ORM once per dialect, not on every call."""
        conn = User._meta.db  # pylint: disable=protected-access  # Tortoise's public metadata
        sql, params = _by_email_statement(conn.capabilities.dialect)
        _, rows = await conn.execute_query(
            sql, [normalize_email(email) if p is _EMAIL else p for p in params]
        )
        return User._init_from_db(**rows[0]) if rows else None  # pylint: disable=protected-access  # Tortoise's own constructor for a fetched row

    async def create(self, create_dict: dict[str, Any]) -> User:
        values = dict(create_dict)
        values["email"] = normalize_email(values["email"])
        try:
            return await User.create(**values)
        except IntegrityError as exc:
            raise EmailTakenError(values["email"]) from exc

    async def update(self, user: User, update_dict: dict[str, Any]) -> User:
        values = dict(update_dict)
        if "email" in values:
            values["email"] = normalize_email(values["email"])
        if not values:
            return user  # nothing to write: never save the whole (possibly stale) row
        previous = {field: getattr(user, field) for field in values}
        for field, value in values.items():
            setattr(user, field, value)
        try:
            await user.save(update_fields=list(values))
        except IntegrityError as exc:
            for field, value in previous.items():  # the object keeps matching its row
                setattr(user, field, value)
            raise EmailTakenError(values.get("email", user.email)) from exc
        return user

    async def delete(self, user: User) -> None:
        await user.delete()
