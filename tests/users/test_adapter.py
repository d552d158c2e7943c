"""The Tortoise adapter's whole BaseUserDatabase contract, on every backend."""

from __future__ import annotations

import uuid

import pytest
from fastapi import FastAPI
from fastapi_users.exceptions import UserAlreadyExists

from app.auth.models import User
from app.users.adapter import EmailTakenError, TortoiseUserDatabase, normalize_email
from tests.conftest import unique_email

# The code under these tests differs by dialect (tests/README.md).
pytestmark = pytest.mark.dialects


def _new(email: str) -> dict[str, object]:
    return {"email": email, "hashed_password": "hash", "display_name": "Ada"}


@pytest.fixture
def db(app: FastAPI) -> TortoiseUserDatabase:
    del app  # only for its Tortoise set-up and empty tables
    return TortoiseUserDatabase()


async def test_create_stores_the_user_with_a_lower_case_email(db: TortoiseUserDatabase) -> None:
    email = unique_email()
    user = await db.create(_new(f"  {email.upper()} "))
    assert isinstance(user.id, uuid.UUID)
    assert user.email == email
    stored = await User.get(id=user.id)
    assert (stored.email, stored.hashed_password, stored.display_name) == (email, "hash", "Ada")
    assert (stored.is_active, stored.is_superuser, stored.is_verified) == (True, False, False)
    assert stored.created_at.tzinfo is not None


async def test_get_finds_by_id_and_none_for_unknown(db: TortoiseUserDatabase) -> None:
    user = await db.create(_new(unique_email()))
    found = await db.get(user.id)
    assert found is not None
    assert found.id == user.id
    assert await db.get(uuid.uuid4()) is None


async def test_get_by_email_is_case_insensitive(db: TortoiseUserDatabase) -> None:
    email = unique_email()
    user = await db.create(_new(email))
    for variant in (email, email.upper(), email.title(), f" {email} "):
        found = await db.get_by_email(variant)
        assert found is not None, variant
        assert found.id == user.id
    assert await db.get_by_email("nobody@example.com") is None


async def test_create_with_a_taken_email_in_any_case_raises(db: TortoiseUserDatabase) -> None:
    email = unique_email()
    await db.create(_new(email))
    with pytest.raises(EmailTakenError):
        await db.create(_new(email.upper()))
    assert issubclass(EmailTakenError, UserAlreadyExists)
    assert await User.all().count() == 1


async def test_update_changes_only_the_given_fields(db: TortoiseUserDatabase) -> None:
    user = await db.create(_new(unique_email()))
    new_email = unique_email("new")
    updated = await db.update(
        user, {"email": new_email.upper(), "is_verified": True, "display_name": "Grace"}
    )
    assert updated.email == new_email
    stored = await User.get(id=user.id)
    assert (stored.email, stored.is_verified, stored.display_name) == (new_email, True, "Grace")
    assert stored.hashed_password == "hash"


async def test_update_to_a_taken_email_raises_and_keeps_both(db: TortoiseUserDatabase) -> None:
    taken = unique_email("taken")
    await db.create(_new(taken))
    email = unique_email()
    user = await db.create(_new(email))
    with pytest.raises(EmailTakenError):
        await db.update(user, {"email": taken.upper(), "display_name": "Changed"})
    assert user.email == email  # the object still matches its row
    assert user.display_name == "Ada"
    stored = await User.get(id=user.id)
    assert (stored.email, stored.display_name) == (email, "Ada")


async def test_update_with_nothing_to_change_keeps_the_row(db: TortoiseUserDatabase) -> None:
    user = await db.create(_new(unique_email()))
    assert await db.update(user, {}) is user
    assert await User.filter(id=user.id).exists()


async def test_delete_removes_the_user(db: TortoiseUserDatabase) -> None:
    email = unique_email()
    user = await db.create(_new(email))
    keep = await db.create(_new(unique_email()))
    await db.delete(user)
    assert await db.get(user.id) is None
    assert await db.get_by_email(email) is None
    assert await db.get(keep.id) is not None
    # The email can be taken again.
    assert (await db.create(_new(email))).email == email


def test_normalize_email() -> None:
    assert normalize_email("  Ada.Lovelace@Example.COM ") == "ada.lovelace@example.com"
