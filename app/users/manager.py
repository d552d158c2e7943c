"""Account rules: the password policy, what happens after register, forgot and verify,
and what ends a user's tokens (password change or reset, deactivation, deletion)."""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

import jwt
from fastapi import BackgroundTasks, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from fastapi_users import BaseUserManager, UUIDIDMixin, exceptions, schemas
from fastapi_users.jwt import decode_jwt, generate_jwt
from fastapi_users.password import PasswordHelper
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from tortoise.transactions import in_transaction

from app.audit import service as audit_service
from app.core.jobs import InProcessJobs, JobContext, Jobs
from app.core.mail import MailMessage, MailSender, create_mail_sender
from app.core.sms import create_sms_sender
from app.core.state import JobsDep, SettingsDep, StoreDep
from app.core.store import KeyValueStore, MemoryStore
from app.study import service as study_service
from app.users import service
from app.users.adapter import TortoiseUserDatabase, normalize_email
from app.users.models import User
from settings import Settings

T = TypeVar("T")

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8


# Argon2id at OWASP's recommended cost (19 MiB, 2 passes, 1 lane): tens of milliseconds
# on one core. The library default (64 MiB, 4 lanes) held 64 MiB per login in flight and
# ran four threads per hash. Stored hashes of other parameters still verify and are
# rehashed at the next login.
PASSWORD_HELPER = PasswordHelper(
    PasswordHash((Argon2Hasher(memory_cost=19_456, time_cost=2, parallelism=1),))
)
# Hashes at once per worker: more only queue for the same cores and hold more memory
# (19 MiB each while it runs). One per worker keeps every core busy when there is a worker
# per core (WEB_CONCURRENCY), as in production; two held a 2-worker server's workers at
# 160 MB through a login burst (bench/serving.py), one keeps them under 150 MB.
HASH_CONCURRENCY = 1
_HASH_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


async def off_loop(func: Callable[..., T], *args: Any) -> T:
    """Runs a password hash in a thread, at most HASH_CONCURRENCY at a time per loop."""
    loop = asyncio.get_running_loop()
    slots = _HASH_SLOTS.get(loop)
    if slots is None:
        slots = _HASH_SLOTS[loop] = asyncio.Semaphore(HASH_CONCURRENCY)
    async with slots:
        return await asyncio.to_thread(func, *args)


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
    ) -> None:
        super().__init__(user_db, PASSWORD_HELPER)
        self.settings = settings
        self.store = store
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
        if len(password) < MIN_PASSWORD_LENGTH:
            raise exceptions.InvalidPasswordException(
                reason=f"Password should be at least {MIN_PASSWORD_LENGTH} characters"
            )
        email = getattr(user, "email", None)
        if email and normalize_email(password) == normalize_email(email):
            raise exceptions.InvalidPasswordException(reason="Password should not be the email")

    async def authenticate(self, credentials: OAuth2PasswordRequestForm) -> User | None:
        """The user for these credentials, or None; as slow for an unknown email as for a
        known one (the hash runs either way), and off the event loop."""
        user = await self.user_db.get_by_email(credentials.username)
        if user is None:
            await off_loop(self.password_helper.hash, credentials.password)
            return None
        verified, new_hash = await off_loop(
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
        values["hashed_password"] = await off_loop(
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
            if field == "email" and value != user.email:
                if await self.user_db.get_by_email(value) is not None:
                    raise exceptions.UserAlreadyExists()
                values["email"] = value
                values["is_verified"] = False
            elif field == "password" and value is not None:
                await self.validate_password(value, user)
                values["hashed_password"] = await off_loop(self.password_helper.hash, value)
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
        valid, _ = await off_loop(
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

    async def spend_hash_time(self) -> None:
        """One password hash for nothing: answers about unknown emails take as long."""
        await off_loop(self.password_helper.hash, "not-a-password")

    async def check_password(self, user: User, password: str) -> bool:
        verified, _ = await off_loop(
            self.password_helper.verify_and_update, password, user.hashed_password
        )
        return verified

    async def delete(self, user: User, request: Request | None = None) -> None:
        """Deletes the account with its study records and sessions (foreign-key cascade);
        its audit rows stay, without the user reference, on every worker."""
        await self.on_before_delete(user, request)
        # Marked first: a worker's writer that stores rows of the user after the clearing
        # below sees the mark and clears them itself.
        await audit_service.forget_user(user_id=user.id, store=self.store)
        try:
            async with in_transaction():
                # The user's row first: a record being added for it meanwhile finishes (and
                # is counted) before the total forgets the account's records.
                await User.filter(id=user.id).select_for_update().first()
                await study_service.forget_owner(owner_id=user.id)
                await audit_service.clear_user(user_id=user.id)
                await self.user_db.delete(user)
        except BaseException:
            # Rolled back (or cancelled): the account stays, and its rows keep its id. Had
            # the commit landed after all, the user table tells the writers instead.
            await audit_service.remember_user(user_id=user.id, store=self.store)
            raise
        await self.on_after_delete(user, request)

    async def on_after_register(self, user: User, request: Request | None = None) -> None:
        logger.info("user registered", extra={"user_id": str(user.id)})
        await self._forget_count()
        if user.is_active and not user.is_verified:
            await self.request_verify(user, request)

    async def on_after_request_verify(
        self, user: User, token: str, request: Request | None = None
    ) -> None:
        # The job makes its own token from the id: no token travels through the queue.
        await self.jobs.submit(send_verify_mail, user_id=str(user.id))

    async def on_after_forgot_password(
        self, user: User, token: str, request: Request | None = None
    ) -> None:
        # As above; the token made here only kept this answer as slow as an unknown email's.
        await self.jobs.submit(send_reset_password_mail, user_id=str(user.id))

    async def on_after_reset_password(self, user: User, request: Request | None = None) -> None:
        ended = await service.revoke_user_sessions(
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
        """fastapi-users' own; a new email (unlike a repeated one) ends sessions too."""
        email_before = user.email
        values = (
            user_update.create_update_dict() if safe else user_update.create_update_dict_superuser()
        )
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
            ended = await service.revoke_user_sessions(
                user_id=user.id, store=self.store, settings=self.settings, except_session=keep
            )
            logger.info(
                "password or email changed or account deactivated; %d sessions ended",
                ended,
                extra={"user_id": str(user.id)},
            )
        else:
            # Any other change (superuser, verified, name) shows in the next request.
            await service.forget_cached_user(
                user_id=user.id, store=self.store, settings=self.settings
            )

    async def on_after_verify(self, user: User, request: Request | None = None) -> None:
        await service.forget_cached_user(user_id=user.id, store=self.store, settings=self.settings)

    async def on_after_delete(self, user: User, request: Request | None = None) -> None:
        logger.info("user deleted", extra={"user_id": str(user.id)})
        await service.forget_cached_user(user_id=user.id, store=self.store, settings=self.settings)
        await self._forget_count()

    def verify_token(self, user: User) -> str:
        """fastapi-users' verification token for the user's current email."""
        return generate_jwt(
            {"sub": str(user.id), "email": user.email, "aud": self.verification_token_audience},
            self.verification_token_secret,
            self.verification_token_lifetime_seconds,
        )

    async def reset_password_token(self, user: User) -> str:
        """fastapi-users' reset token, bound to the current password (a new one voids it)."""
        fingerprint = await off_loop(self.password_helper.hash, user.hashed_password)
        return generate_jwt(
            {
                "sub": str(user.id),
                "password_fgpt": fingerprint,
                "aud": self.reset_password_token_audience,
            },
            self.reset_password_token_secret,
            self.reset_password_token_lifetime_seconds,
        )

    async def _forget_count(self) -> None:
        if self.store is not None:
            await service.forget_user_count(self.store)


async def get_user_db() -> AsyncIterator[TortoiseUserDatabase]:
    yield TortoiseUserDatabase()


async def get_user_manager(
    user_db: Annotated[TortoiseUserDatabase, Depends(get_user_db)],
    settings: SettingsDep,
    store: StoreDep,
    jobs: JobsDep,
) -> AsyncIterator[UserManager]:
    yield UserManager(user_db, settings, store=store, jobs=jobs)


# --- mail jobs (run by a worker, or by the web process without a broker) ------------------


# The API routes that take the mailed tokens (tests check that they exist).
VERIFY_ROUTE = "/api/v1/auth/verify"
RESET_ROUTE = "/api/v1/auth/reset-password"


def _how_to_use(settings: Settings, path: str, route: str, token: str, action: str) -> str:
    """The token, the API route that takes it, and a link to the web client when there is
    one (MAIL_LINK_BASE_URL): the service itself serves no page at such a link."""
    by_api = f'send this token to POST {route} as {{"token": "…"}}:\n\n{token}\n'
    base = settings.MAIL_LINK_BASE_URL.strip().rstrip("/")
    if not base:
        return f"To {action}, {by_api}"
    link = f"{base}/{path}?{urlencode({'token': token})}"
    return f"To {action}, open this link in the Study Log web app:\n\n{link}\n\nor {by_api}"


async def _job_user(ctx: JobContext, user_id: str) -> tuple[UserManager, User | None]:
    manager = UserManager(TortoiseUserDatabase(), ctx.settings, store=ctx.store, mail=ctx.mail)
    user = await manager.user_db.get(uuid.UUID(user_id))
    return manager, user if user is not None and user.is_active else None


async def send_verify_mail(ctx: JobContext, *, user_id: str) -> None:
    """Mails a fresh verification token; nothing for a verified, inactive or deleted user.
    A refusing or silent mail server raises (the worker retries)."""
    manager, user = await _job_user(ctx, user_id)
    if user is None or user.is_verified:
        return
    token = manager.verify_token(user)
    await ctx.mail.send(
        MailMessage(
            to=user.email,
            subject="Confirm your email address for Study Log",
            body=_how_to_use(
                ctx.settings, "verify", VERIFY_ROUTE, token, "confirm your email address"
            ),
        )
    )


async def send_reset_password_mail(ctx: JobContext, *, user_id: str) -> None:
    """Mails a fresh password reset token to an active user; raises like the above."""
    manager, user = await _job_user(ctx, user_id)
    if user is None:
        return
    token = await manager.reset_password_token(user)
    await ctx.mail.send(
        MailMessage(
            to=user.email,
            subject="Reset your Study Log password",
            body=(
                "Someone asked to reset the password of this account.\n\n"
                + _how_to_use(
                    ctx.settings,
                    "reset-password",
                    RESET_ROUTE,
                    token,
                    "choose a new password (with the token, in the field `password`)",
                )
                + "\nIf it was not you, ignore this mail: nothing changes.\n"
            ),
        )
    )


UserManagerDep = Annotated[UserManager, Depends(get_user_manager)]
