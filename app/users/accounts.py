"""Account operations the routes call: sign-up, password and SMS login sessions, mailed
reset and verification tokens, and changes to an account. Each raises the errors of
app/users/errors.py; fastapi-users' own exceptions are translated in one place,
`refusals`, because each operation answers them with its own ErrorCode."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from fastapi import Request
from fastapi.security import OAuth2PasswordRequestForm
from fastapi_users import exceptions
from fastapi_users.router.common import ErrorCode

from app.auth import sessions
from app.auth.models import User
from app.platform.store import KeyValueStore
from app.users import errors
from app.users.dependencies import AccountRateLimiter
from app.users.manager import UserManager
from app.users.schemas import TokenPair, UserCreate, UserUpdate, UserUpdateMe
from settings import Settings

Operation = Literal["register", "update", "reset_password", "verify"]

_REFUSALS: dict[Operation, tuple[tuple[tuple[type[Exception], ...], ErrorCode], ...]] = {
    "register": (
        ((exceptions.UserAlreadyExists,), ErrorCode.REGISTER_USER_ALREADY_EXISTS),
        ((exceptions.InvalidPasswordException,), ErrorCode.REGISTER_INVALID_PASSWORD),
    ),
    "update": (
        ((exceptions.UserAlreadyExists,), ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS),
        ((exceptions.InvalidPasswordException,), ErrorCode.UPDATE_USER_INVALID_PASSWORD),
    ),
    "reset_password": (
        (
            (
                exceptions.InvalidResetPasswordToken,
                exceptions.UserNotExists,
                exceptions.UserInactive,
            ),
            ErrorCode.RESET_PASSWORD_BAD_TOKEN,
        ),
        ((exceptions.InvalidPasswordException,), ErrorCode.RESET_PASSWORD_INVALID_PASSWORD),
    ),
    "verify": (
        (
            (exceptions.InvalidVerifyToken, exceptions.UserNotExists),
            ErrorCode.VERIFY_USER_BAD_TOKEN,
        ),
        ((exceptions.UserAlreadyVerified,), ErrorCode.VERIFY_USER_ALREADY_VERIFIED),
    ),
}


@contextmanager
def refusals(operation: Operation) -> Iterator[None]:
    """fastapi-users' exceptions inside as the domain errors `operation` answers them with;
    any other passes through."""
    try:
        yield
    except exceptions.FastAPIUsersException as exc:
        for kinds, code in _REFUSALS[operation]:
            if not isinstance(exc, kinds):
                continue
            if isinstance(exc, exceptions.InvalidPasswordException):
                raise errors.InvalidPassword(code, exc.reason) from exc
            raise errors.Refused(code) from exc
        raise


async def register(
    user_in: UserCreate, *, user_manager: UserManager, limiter: AccountRateLimiter, request: Request
) -> User:
    await limiter.hit("register", email=user_in.email)
    with refusals("register"):
        return await user_manager.create(user_in, safe=True, request=request)


async def open_session(
    user: User, *, user_manager: UserManager, settings: Settings, request: Request
) -> TokenPair:
    """A new login session for `user` (its password or SMS code checked)."""
    tokens = await sessions.start_session(user=user, settings=settings)
    await user_manager.on_after_login(user, request)
    return TokenPair(access_token=tokens.access_token, refresh_token=tokens.refresh_token)


async def log_in(
    credentials: OAuth2PasswordRequestForm,
    *,
    user_manager: UserManager,
    limiter: AccountRateLimiter,
    settings: Settings,
    request: Request,
) -> TokenPair:
    attempt = await limiter.before_login(email=credentials.username)
    user = await user_manager.authenticate(credentials)
    if user is None or not user.is_active:
        await limiter.login_failed(attempt)
        raise errors.BadCredentials
    await limiter.login_succeeded(attempt)
    return await open_session(user, user_manager=user_manager, settings=settings, request=request)


async def refresh(*, refresh_token: str, settings: Settings, store: KeyValueStore) -> TokenPair:
    try:
        tokens = await sessions.refresh_session(
            refresh_token=refresh_token, settings=settings, store=store
        )
    except sessions.RefreshRejected as exc:
        raise errors.SessionRefused from exc
    return TokenPair(access_token=tokens.access_token, refresh_token=tokens.refresh_token)


async def forgot_password(
    email: str, *, user_manager: UserManager, limiter: AccountRateLimiter, request: Request
) -> None:
    """Mails a reset token if an active account has `email`; as slow when none has."""
    await limiter.hit("forgot_password", email=email)
    try:
        user = await user_manager.get_by_email(email)
        await user_manager.forgot_password(user, request)
    except (exceptions.UserNotExists, exceptions.UserInactive):
        await user_manager.spend_hash_time()


async def reset_password(
    token: str,
    password: str,
    *,
    user_manager: UserManager,
    limiter: AccountRateLimiter,
    request: Request,
) -> None:
    with refusals("reset_password"):
        await limiter.check_password(user_id=user_manager.reset_token_user_id(token))
        await user_manager.reset_password(token, password, request)


async def request_verify(
    email: str, *, user_manager: UserManager, limiter: AccountRateLimiter, request: Request
) -> None:
    """Mails a verification token if an unverified active account has `email`; the answer
    is the same either way."""
    await limiter.hit("verify", email=email)
    try:
        user = await user_manager.get_by_email(email)
        await user_manager.request_verify(user, request)
    except (exceptions.UserNotExists, exceptions.UserInactive, exceptions.UserAlreadyVerified):
        pass


async def verify(token: str, *, user_manager: UserManager, request: Request) -> User:
    with refusals("verify"):
        return await user_manager.verify(token, request)


async def require_password(
    user: User, password: str | None, *, user_manager: UserManager, limiter: AccountRateLimiter
) -> None:
    """WrongPassword unless `password` is the user's; every check is counted."""
    await limiter.check_password(user_id=user.id)
    if not password or not await user_manager.check_password(user, password):
        raise errors.WrongPassword


async def update(
    user_in: UserUpdate, user: User, *, user_manager: UserManager, safe: bool, request: Request
) -> User:
    """Applies a change; `safe` leaves out the fields only a superuser may set."""
    with refusals("update"):
        return await user_manager.update(user_in, user, safe=safe, request=request)


async def update_own(
    user_in: UserUpdateMe,
    user: User,
    *,
    user_manager: UserManager,
    limiter: AccountRateLimiter,
    request: Request,
) -> User:
    """The user's change to their own account: a new email or password needs the current
    password."""
    new_email = user_in.email is not None and user_in.email != user.email
    if new_email or user_in.password is not None:
        await require_password(
            user, user_in.current_password, user_manager=user_manager, limiter=limiter
        )
    if new_email:
        # Whether another account has an email is counted like registering it.
        await limiter.hit("register", email=str(user_in.email))
    return await update(user_in, user, user_manager=user_manager, safe=True, request=request)


async def deregister(
    user: User,
    password: str,
    *,
    user_manager: UserManager,
    limiter: AccountRateLimiter,
    request: Request,
) -> None:
    """Deletes the user's own account, with the current password."""
    await require_password(user, password, user_manager=user_manager, limiter=limiter)
    await user_manager.delete(user, request=request)
