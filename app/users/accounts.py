"""Account operations the routes call: sign-up, password and SMS login sessions, mailed
reset and verification tokens, and changes to an account. Each raises the errors of
app/users/errors.py; fastapi-users' own exceptions are translated in one place,
`refusals`, because each operation answers them with its own ErrorCode."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import BackgroundTasks, Depends, Request
from fastapi_users import exceptions
from fastapi_users.router.common import ErrorCode

from app.auth import sessions
from app.auth.models import User
from app.http.net import client_ip
from app.http.state import LazyJobs, SettingsDep, app_state
from app.platform.store import KeyValueStore
from app.users import errors
from app.users.adapter import TortoiseUserDatabase
from app.users.dependencies import (
    AccountRateLimiter,
    AccountRateLimiterDep,
    single_valued_login_form,
)
from app.users.manager import UserManager, UserManagerDep
from app.users.schemas import (
    PasswordLoginForm,
    TokenPair,
    UserCreate,
    UserUpdate,
    UserUpdateMe,
)
from settings import Settings

Operation = Literal["register", "update", "reset_password", "verify"]

_BAD_RESET_TOKEN = ErrorCode.RESET_PASSWORD_BAD_TOKEN
_BAD_VERIFY_TOKEN = ErrorCode.VERIFY_USER_BAD_TOKEN
_REFUSALS: dict[Operation, dict[type[exceptions.FastAPIUsersException], ErrorCode]] = {
    "register": {
        exceptions.UserAlreadyExists: ErrorCode.REGISTER_USER_ALREADY_EXISTS,
        exceptions.InvalidPasswordException: ErrorCode.REGISTER_INVALID_PASSWORD,
    },
    "update": {
        exceptions.UserAlreadyExists: ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS,
        exceptions.InvalidPasswordException: ErrorCode.UPDATE_USER_INVALID_PASSWORD,
    },
    "reset_password": {
        exceptions.InvalidResetPasswordToken: _BAD_RESET_TOKEN,
        exceptions.UserNotExists: _BAD_RESET_TOKEN,
        exceptions.UserInactive: _BAD_RESET_TOKEN,
        exceptions.InvalidPasswordException: ErrorCode.RESET_PASSWORD_INVALID_PASSWORD,
    },
    "verify": {
        exceptions.InvalidVerifyToken: _BAD_VERIFY_TOKEN,
        exceptions.UserNotExists: _BAD_VERIFY_TOKEN,
        exceptions.UserAlreadyVerified: ErrorCode.VERIFY_USER_ALREADY_VERIFIED,
    },
}


@contextmanager
def refusals(operation: Operation) -> Iterator[None]:
    """fastapi-users' exceptions inside as the domain errors `operation` answers them with;
    any other passes through."""
    try:
        yield
    except exceptions.FastAPIUsersException as exc:
        for kind, code in _REFUSALS[operation].items():
            if not isinstance(exc, kind):
                continue
            if isinstance(exc, exceptions.InvalidPasswordException):
                raise errors.InvalidPassword(code, exc.reason) from exc
            raise errors.Refused(code) from exc
        raise


async def refresh(*, refresh_token: str, settings: Settings, store: KeyValueStore) -> TokenPair:
    """A new access and refresh token for a refresh token, which is spent."""
    try:
        tokens = await sessions.refresh_session(
            refresh_token=refresh_token, settings=settings, store=store
        )
    except sessions.RefreshRejected as exc:
        raise errors.SessionRefused from exc
    return _token_pair(tokens)


def _token_pair(tokens: sessions.IssuedTokens) -> TokenPair:
    return TokenPair(access_token=tokens.access_token, refresh_token=tokens.refresh_token)


class Accounts:
    """The account operations of one request: its manager, its rate limits (by the
    client's address) and the request the manager's hooks are told about."""

    def __init__(
        self,
        *,
        user_manager: UserManager,
        limiter: AccountRateLimiter,
        settings: Settings,
        request: Request,
    ) -> None:
        self.user_manager = user_manager
        self.limiter = limiter
        self.settings = settings
        self.request = request

    async def register(self, user_in: UserCreate) -> User:
        await self.limiter.hit("register", email=user_in.email)
        with refusals("register"):
            return await self.user_manager.create(user_in, safe=True, request=self.request)

    async def open_session(self, user: User) -> TokenPair:
        """A new login session for `user`, who proved it (with a password or SMS code)."""
        tokens = await sessions.start_session(user=user, settings=self.settings)
        await self.user_manager.on_after_login(user, self.request)
        return _token_pair(tokens)

    async def log_in(self, credentials: PasswordLoginForm) -> TokenPair:
        attempt = await self.limiter.before_login(email=credentials.username)
        user = await self.user_manager.authenticate(credentials)
        if user is None or not user.is_active:
            await self.limiter.login_failed(attempt)
            raise errors.BadCredentials
        await self.limiter.login_succeeded(attempt)
        return await self.open_session(user)

    async def forgot_password(self, email: str) -> None:
        """Mails a reset token if an active account has `email`; as slow when none has, and
        with a decoy job queued (the same answer while the broker is away)."""
        await self.limiter.hit("forgot_password", email=email)
        try:
            user = await self.user_manager.get_by_email(email)
            await self.user_manager.forgot_password(user, self.request)
        except (exceptions.UserNotExists, exceptions.UserInactive):
            await self.user_manager.spend_hash_time()
            await self.user_manager.submit_decoy_mail("reset")

    async def reset_password(self, token: str, password: str) -> None:
        with refusals("reset_password"):
            await self.limiter.check_password(user_id=self.user_manager.reset_token_user_id(token))
            await self.user_manager.reset_password(token, password, self.request)

    async def request_verify(self, email: str) -> None:
        """Mails a verification token if an unverified active account has `email`; the
        answer is the same either way (a decoy job is queued otherwise)."""
        await self.limiter.hit("verify", email=email)
        try:
            user = await self.user_manager.get_by_email(email)
            await self.user_manager.request_verify(user, self.request)
        except (
            exceptions.UserNotExists,
            exceptions.UserInactive,
            exceptions.UserAlreadyVerified,
        ):
            await self.user_manager.submit_decoy_mail("verify")

    async def verify(self, token: str) -> User:
        with refusals("verify"):
            return await self.user_manager.verify(token, self.request)

    async def require_password(self, user: User, password: str | None) -> None:
        """WrongPassword unless `password` is the user's; every check is counted."""
        await self.limiter.check_password(user_id=user.id)
        if not password or not await self.user_manager.check_password(user, password):
            raise errors.WrongPassword

    async def update(self, user_in: UserUpdate | UserUpdateMe, user: User, *, safe: bool) -> User:
        """Applies a change; `safe` leaves out the fields only a superuser may set."""
        with refusals("update"):
            return await self.user_manager.update(user_in, user, safe=safe, request=self.request)

    async def update_own(self, user_in: UserUpdateMe, user: User) -> User:
        """The user's change to their own account: a new email or password needs the
        current password."""
        new_email = user_in.email is not None and user_in.email != user.email
        if new_email or user_in.password is not None:
            await self.require_password(user, user_in.current_password)
        if new_email:
            # Whether another account has an email is counted like registering it.
            await self.limiter.hit("register", email=str(user_in.email))
        return await self.update(user_in, user, safe=True)

    async def deregister(self, user: User, password: str) -> None:
        """Deletes the user's own account, with the current password."""
        await self.require_password(user, password)
        await self.user_manager.delete(user, request=self.request)


async def get_accounts(
    request: Request,
    user_manager: UserManagerDep,
    limiter: AccountRateLimiterDep,
    settings: SettingsDep,
) -> Accounts:
    return Accounts(user_manager=user_manager, limiter=limiter, settings=settings, request=request)


AccountsDep = Annotated[Accounts, Depends(get_accounts)]


async def get_login_accounts(request: Request, background: BackgroundTasks) -> Accounts:
    """`get_accounts` for the password login, in one dependency node where that one has
    ten (FastAPI walks them all on every request): everything is read off the app state,
    and the job queue is made only if a job is submitted (a login submits none). It first
    refuses a form that sends a field twice (`single_valued_login_form`)."""
    await single_valued_login_form(request)
    state = app_state(request)
    settings, store = state.settings, state.store
    manager = UserManager(
        TortoiseUserDatabase(),
        settings,
        store=store,
        jobs=LazyJobs(request, background),
        remove_account=state.remove_account,
    )
    limiter = AccountRateLimiter(
        store=store, settings=settings, ip=client_ip(request.scope, settings.TRUSTED_PROXIES)
    )
    return Accounts(user_manager=manager, limiter=limiter, settings=settings, request=request)


LoginAccountsDep = Annotated[Accounts, Depends(get_login_accounts)]
