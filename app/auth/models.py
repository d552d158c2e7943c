"""Accounts and their login sessions.

Emails are stored lower-cased, which makes them unique case-insensitively; phone numbers
in E.164, which makes them unique however they were written. A login session
is what one login starts: its access tokens carry its id, its refresh tokens belong to it,
and revoking it (logout, reuse of a spent refresh token, password change…) ends them all.
"""

import uuid

from tortoise import fields
from tortoise.models import Model


class ExactCharField(fields.CharField):
    """A string compared code point by code point on every database.

    PostgreSQL and SQLite do so by default; MySQL's default collations fold case and
    accents (`víctim@` = `victim@`), so the column is `utf8mb4_bin` there.
    """

    class _db_mysql:  # pylint: disable=invalid-name,too-few-public-methods  # Tortoise's hook
        def __init__(self, field: fields.CharField) -> None:
            self.field = field

        @property
        def SQL_TYPE(self) -> str:  # pylint: disable=invalid-name  # Tortoise's name
            return f"VARCHAR({self.field.max_length}) COLLATE utf8mb4_bin"


class User(Model):
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    # Stored normalised (app.users.adapter.normalize_email) and compared exactly.
    email = ExactCharField(max_length=320, unique=True)
    hashed_password = fields.CharField(max_length=1024)
    display_name = fields.CharField(max_length=100, default="")
    # E.164 ("+8613800138000"): at most 15 digits after the plus. Set only through an SMS
    # code or the CLI; many accounts may have none (NULLs do not collide in a unique index).
    phone = fields.CharField(max_length=16, null=True, unique=True)
    is_active = fields.BooleanField(default=True)
    is_superuser = fields.BooleanField(default=False)
    is_verified = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "user"

    def __str__(self) -> str:
        return self.email


class AuthSession(Model):
    """One login. The database row is the authority on revocation; the store only caches it."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="auth_sessions", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    # When its newest refresh token expires: after that the row is only history.
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "auth_session"
        # Ending every session of a user filters by user and by still being live.
        indexes = (("user_id", "revoked_at"),)

    def __str__(self) -> str:
        return str(self.id)


class RefreshToken(Model):
    """An opaque refresh token, stored as its SHA-256; spent (used_at set) on first use."""

    id = fields.BigIntField(primary_key=True)
    session: fields.ForeignKeyRelation[AuthSession] = fields.ForeignKeyField(
        "models.AuthSession", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "refresh_token"
        indexes = (("session_id",),)

    def __str__(self) -> str:
        return f"refresh token {self.id} of session {self.session_id}"
