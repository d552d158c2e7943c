"""Account rules: the password policy, what happens after register, forgot and verify,
and what ends a user's tokens (password change or reset, deactivation, deletion)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

import jwt
from fastapi import BackgroundTasks, Depends, Request
from fastapi_users import BaseUserManager, UUIDIDMixin, exceptions, schemas
from fastapi_users.jwt import decode_jwt

from app.auth import sessions
from app.auth.models import User
from app.http.state import JobsDep, SettingsDep, StoreDep, app_state
from app.jobs.runner import InProcessJobs, JobContext, Jobs, JobsUnavailable
from app.notify.mail import MailSender, create_mail_sender
from app.notify.sms import create_sms_sender
from app.platform.store import KeyValueStore, MemoryStore
from app.users import passwords, tasks
from app.users import service as users_service
from app.users.adapter import TortoiseUserDatabase
from app.users.schemas import PasswordLoginForm
from settings import Settings

logger = logging.getLogger(__name__)

# Removes an account and everything of it in other domains (app/flows.py); the manager is
# handed one where accounts may be deleted (the app's lifespan, the CLI).
AccountRemover = Callable[..., Awaitable[None]]


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    """fastapi-users' manager with this service's policy.

    Outside a request (the CLI) it needs only the database and settings: mail is then sent
    before the call returns, and there is no count cache to drop.
    """

    def __init__(
        self,
        user_db: TortoiseUserDatabase,
        settings: Settings,
        *,
        store: KeyValueStore | None = None,
        mail: MailSender | None = None,
        background: BackgroundTasks | None = None,
        jobs: Jobs | None = None,
        remove_account: AccountRemover | None = None,
    ) -> None:
        super().__init__(user_db, passwords.PASSWORD_HELPER)
        self.settings = settings
        self.store = store
        self.remove_account = remove_account
        # Without a queue (the CLI, tests), mail goes from this process: after the answer
        # in a request, at once otherwise.
        self.jobs = jobs or InProcessJobs(
            JobContext(
                settings=settings,
                store=store or MemoryStore(),
                mail=mail or create_mail_sender(settings),
                sms=create_sms_sender(settings),
            ),
            background,
        )
        self.reset_password_token_secret = settings.SECRET_KEY
        self.reset_password_token_lifetime_seconds = settings.RESET_PASSWORD_TOKEN_TTL_SECONDS
        self.verification_token_secret = settings.SECRET_KEY
        self.verification_token_lifetime_seconds = settings.VERIFY_TOKEN_TTL_SECONDS

    async def validate_password(
        self, password: str, user: schemas.BaseUserCreate | User | Any
    ) -> None:
        passwords.check_policy(password, getattr(user, "email", None))

    async def authenticate(self, credentials: PasswordLoginForm) -> User | None:
        """The user for these credentials, or None; as slow for an unknown email as for a
        known one (the hash runs either way), and off the event loop."""
        user = await self.user_db.get_by_email(credentials.username)
        if user is None:
            await passwords.off_loop(self.password_helper.hash, credentials.password)
            return None
        verified, new_hash = await passwords.off_loop(
            self.password_helper.verify_and_update, credentials.password, user.hashed_password
        )
        if not verified:
            return None
        if new_hash is not None:
            await self.user_db.update(user, {"hashed_password": new_hash})
        return user

    async def create(
        self,
        user_create: schemas.BaseUserCreate,
        safe: bool = False,
        request: Request | None = None,
    ) -> User:
        """fastapi-users' own, with the hash off the event loop."""
        await self.validate_password(user_create.password, user_create)
        if await self.user_db.get_by_email(user_create.email) is not None:
            raise exceptions.UserAlreadyExists()
        values = (
            user_create.create_update_dict() if safe else user_create.create_update_dict_superuser()
        )
        values["hashed_password"] = await passwords.off_loop(
            self.password_helper.hash, values.pop("password")
        )
        user = await self.user_db.create(values)
        await self.on_after_register(user, request)
        return user

    async def _update(self, user: User, update_dict: dict[str, Any]) -> User:
        """fastapi-users' own, with the hash off the event loop: a new email is unverified,
        a new password meets the policy."""
        values: dict[str, Any] = {}
        for field, value in update_dict.items():
            if field == "email":
                if value == user.email:
                    continue  # unchanged: writing it would write the request's copy back
                if await self.user_db.get_by_email(value) is not None:
                    raise exceptions.UserAlreadyExists()
                values["email"] = value
                values["is_verified"] = False
            elif field == "password" and value is not None:
                await self.validate_password(value, user)
                values["hashed_password"] = await passwords.off_loop(
                    self.password_helper.hash, value
                )
            else:
                values[field] = value
        return await self.user_db.update(user, values)

    def _reset_claims(self, token: str) -> tuple[uuid.UUID, str]:
        """(user id, password fingerprint) of a well-signed, unexpired reset token."""
        try:
            data = decode_jwt(
                token, self.reset_password_token_secret, [self.reset_password_token_audience]
            )
            user_id, fingerprint = self.parse_id(data["sub"]), data["password_fgpt"]
        except (jwt.PyJWTError, KeyError, exceptions.InvalidID) as exc:
            raise exceptions.InvalidResetPasswordToken() from exc
        if not isinstance(fingerprint, str):
            raise exceptions.InvalidResetPasswordToken()
        return user_id, fingerprint

    def reset_token_user_id(self, token: str) -> uuid.UUID:
        """The account a reset token names, checked before any hashing (so the attempt can
        be counted against that account); InvalidResetPasswordToken for a bad token."""
        return self._reset_claims(token)[0]

    async def reset_password(
        self, token: str, password: str, request: Request | None = None
    ) -> User:
        """fastapi-users' own, with the fingerprint check and the hash off the event loop."""
        user_id, fingerprint = self._reset_claims(token)
        user = await self.get(user_id)
        valid, _ = await passwords.off_loop(
            self.password_helper.verify_and_update, user.hashed_password, fingerprint
        )
        if not valid:
            raise exceptions.InvalidResetPasswordToken()
        if not user.is_active:
            raise exceptions.UserInactive()
        updated = await self._update(user, {"password": password})
        await self.on_after_reset_password(user, request)
        return updated

    async def forgot_password(self, user: User, request: Request | None = None) -> None:
        """fastapi-users' own, with the fingerprint hash off the event loop."""
        if not user.is_active:
            raise exceptions.UserInactive()
        token = await self.reset_password_token(user)
        await self.on_after_forgot_password(user, token, request)

    async def submit_decoy_mail(self, kind: str) -> None:
        """For an address without a (suitable) account, the job a real one gets, for a user
        id no account has: the same broker round trip, so the answer and its timing, and
        its 503 while the broker is away, tell nothing; the job finds no user and sends
        nothing."""
        job = tasks.send_reset_password_mail if kind == "reset" else tasks.send_verify_mail
        await self.jobs.submit(job, user_id=str(uuid.uuid4()))

    async def spend_hash_time(self) -> None:
        """One password hash for nothing: answers about unknown emails take as long."""
        await passwords.off_loop(self.password_helper.hash, "not-a-password")

    async def check_password(self, user: User, password: str) -> bool:
        verified, _ = await passwords.off_loop(
            self.password_helper.verify_and_update, password, user.hashed_password
        )
        return verified

    async def delete(self, user: User, request: Request | None = None) -> None:
        """Deletes the account with everything of it (app/flows.py decides what that is)."""
        if self.remove_account is None:
            raise RuntimeError("this UserManager was made without an account remover")
        await self.on_before_delete(user, request)
        await self.remove_account(user=user, store=self.store, settings=self.settings)
        await self.on_after_delete(user, request)

    async def on_after_register(self, user: User, request: Request | None = None) -> None:
        logger.info("user registered", extra={"user_id": str(user.id)})
        await self._invalidate_count()
        if user.is_active and not user.is_verified:
            try:
                await self.request_verify(user, request)
            except JobsUnavailable:
                # The account exists: the answer says so (201), never a failure. The user
                # asks for another verification mail when the queue is back.
                logger.error(
                    "user registered; verification mail not queued (broker unavailable)",
                    extra={"user_id": str(user.id)},
                )

    async def on_after_request_verify(
        self, user: User, token: str, request: Request | None = None
    ) -> None:
        # The job makes its own token from the id: no token travels through the queue.
        await self.jobs.submit(tasks.send_verify_mail, user_id=str(user.id))

    async def on_after_forgot_password(
        self, user: User, token: str, request: Request | None = None
    ) -> None:
        # As above; the token made here only kept this answer as slow as an unknown email's.
        await self.jobs.submit(tasks.send_reset_password_mail, user_id=str(user.id))

    async def on_after_reset_password(self, user: User, request: Request | None = None) -> None:
        ended = await sessions.revoke_user_sessions(
            user_id=user.id, store=self.store, settings=self.settings
        )
        logger.info("password reset; %d sessions ended", ended, extra={"user_id": str(user.id)})

    async def update(
        self,
        user_update: schemas.BaseUserUpdate,
        user: User,
        safe: bool = False,
        request: Request | None = None,
    ) -> User:
        """fastapi-users' own; a new email (unlike a repeated one) ends sessions too. Only
        the columns asked for are written: `user` may be a copy read before another
        request's change (at authentication, or from the session cache), and writing its
        other columns back would undo that change. Nothing to write answers the row as
        it is now."""
        email_before = user.email
        values = (
            user_update.create_update_dict() if safe else user_update.create_update_dict_superuser()
        )
        if not values:
            return await self.user_db.get(user.id) or user
        updated = await self._update(user, values)
        if updated.email != email_before:
            values["email_changed"] = True
        await self.on_after_update(updated, values, request)
        return updated

    async def on_after_update(
        self, user: User, update_dict: dict[str, Any], request: Request | None = None
    ) -> None:
        if (
            update_dict.get("password") is not None
            or update_dict.get("email_changed")
            or update_dict.get("is_active") is False
        ):
            # The user's own request keeps its session; every other one ends.
            keep = None
            if request is not None and getattr(request.state, "user_id", None) == user.id:
                keep = getattr(request.state, "session_id", None)
            ended = await sessions.revoke_user_sessions(
                user_id=user.id, store=self.store, settings=self.settings, except_session=keep
            )
            logger.info(
                "password or email changed or account deactivated; %d sessions ended",
                ended,
                extra={"user_id": str(user.id)},
            )
        else:
            # Any other change (superuser, verified, name) shows in the next request.
            await sessions.invalidate_cached_user(
                user_id=user.id, store=self.store, settings=self.settings
            )

    async def on_after_verify(self, user: User, request: Request | None = None) -> None:
        await sessions.invalidate_cached_user(
            user_id=user.id, store=self.store, settings=self.settings
        )

    async def on_after_delete(self, user: User, request: Request | None = None) -> None:
        logger.info("user deleted", extra={"user_id": str(user.id)})
        await sessions.invalidate_cached_user(
            user_id=user.id, store=self.store, settings=self.settings
        )
        await self._invalidate_count()

    def verify_token(self, user: User) -> str:
        return passwords.verify_token(user, self.settings)

    async def reset_password_token(self, user: User) -> str:
        return await passwords.reset_password_token(user, self.settings)

    async def _invalidate_count(self) -> None:
        if self.store is not None:
            await users_service.invalidate_user_count(self.store)


async def get_user_db() -> AsyncIterator[TortoiseUserDatabase]:
    yield TortoiseUserDatabase()


async def get_user_manager(
    request: Request,
    user_db: Annotated[TortoiseUserDatabase, Depends(get_user_db)],
    settings: SettingsDep,
    store: StoreDep,
    jobs: JobsDep,
) -> AsyncIterator[UserManager]:
    yield UserManager(
        user_db,
        settings,
        store=store,
        jobs=jobs,
        remove_account=app_state(request).remove_account,
    )


UserManagerDep = Annotated[UserManager, Depends(get_user_manager)]
