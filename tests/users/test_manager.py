"""UserManager outside the routes: mail after the answer, and inline for the CLI."""

from __future__ import annotations

from fastapi import BackgroundTasks, FastAPI

from app.auth import sessions
from app.auth.models import AuthSession
from app.users.adapter import TortoiseUserDatabase
from app.users.manager import UserManager
from app.users.schemas import UserCreate, UserUpdate
from settings import Settings
from tests.conftest import PASSWORD, unique_email
from tests.users.conftest import Outbox


async def test_mail_in_a_request_waits_for_the_background(app: FastAPI, settings: Settings) -> None:
    del app
    outbox, background = Outbox(), BackgroundTasks()
    manager = UserManager(TortoiseUserDatabase(), settings, mail=outbox, background=background)
    user = await manager.create(UserCreate(email=unique_email(), password=PASSWORD))
    await manager.forgot_password(user)
    assert not outbox.messages  # nothing sent before the answer
    assert len(background.tasks) == 2  # the verify mail and the reset mail
    await background()
    assert [m.subject for m in outbox.messages] == [
        "Confirm your email address for Study Log",
        "Reset your Study Log password",
    ]


async def test_without_a_request_mail_is_sent_at_once(app: FastAPI, settings: Settings) -> None:
    del app
    outbox = Outbox()
    manager = UserManager(TortoiseUserDatabase(), settings, mail=outbox)
    email = unique_email()
    await manager.create(UserCreate(email=email, password=PASSWORD))
    assert outbox.token(email, "confirm")


async def test_deactivation_through_the_manager_ends_sessions(
    app: FastAPI, settings: Settings
) -> None:
    del app
    manager = UserManager(TortoiseUserDatabase(), settings, mail=Outbox())
    user = await manager.create(UserCreate(email=unique_email(), password=PASSWORD))
    await sessions.start_session(user=user, settings=settings)
    await manager.update(UserUpdate(is_active=False), user, safe=False)
    assert await AuthSession.filter(user_id=user.id, revoked_at=None).count() == 0
