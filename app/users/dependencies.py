"""Dependencies of the account routes: rate limits per client IP, email and phone, the SMS
backend being on, a phone number in a body, and the user a superuser route names."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError

from app.auth.models import User
from app.http.net import client_ip
from app.http.state import SettingsDep, StoreDep
from app.platform import ratelimit
from app.platform.phone import InvalidPhoneNumber, normalize_phone, sms_refusal
from app.platform.store import KeyValueStore
from app.users.adapter import normalize_email
from app.users.errors import SmsDisabled, UserNotFound
from app.users.manager import UserManagerDep
from settings import Settings

Action = Literal["register", "forgot_password", "verify"]

# An address that logged in to an account is spared that account's lock for this long.
KNOWN_ADDRESS_SECONDS = 30 * 86_400


@dataclass(frozen=True)
class LoginAttempt:
    """What a login's limits need after the password check."""

    account: str  # the hashed, normalised email: what the user lookup matches exactly
    pair: str  # account and client address
    known: bool  # this address logged in to this account lately


class AccountRateLimiter:
    """Counts an attempt at one of the limited account actions, or answers 429."""

    def __init__(self, *, store: KeyValueStore, settings: Settings, ip: str | None) -> None:
        self.store = store
        self.settings = settings
        # Per-address limits count an IPv6 client by its /64, which it usually holds whole.
        self.ip = ratelimit.address_key(ip)

    def _limit(self, attempts: int) -> ratelimit.Limit:
        return ratelimit.Limit(attempts, self.settings.RATE_LIMIT_WINDOW_SECONDS)

    def _limits(self, action: Action) -> tuple[ratelimit.Limit, ratelimit.Limit]:
        s = self.settings
        per_ip, per_email = {
            "register": (s.RATE_LIMIT_REGISTER_PER_IP, s.RATE_LIMIT_REGISTER_PER_EMAIL),
            "forgot_password": (
                s.RATE_LIMIT_FORGOT_PASSWORD_PER_IP,
                s.RATE_LIMIT_FORGOT_PASSWORD_PER_EMAIL,
            ),
            "verify": (s.RATE_LIMIT_VERIFY_PER_IP, s.RATE_LIMIT_VERIFY_PER_EMAIL),
        }[action]
        return self._limit(per_ip), self._limit(per_email)

    async def hit(self, action: Action, *, email: str) -> None:
        per_ip, per_email = self._limits(action)
        await ratelimit.hit(self.store, bucket=f"{action}:ip", key=self.ip, limit=per_ip)
        await ratelimit.hit(
            self.store,
            bucket=f"{action}:email",
            key=ratelimit.hashed(normalize_email(email)),
            limit=per_email,
        )

    def _pair(self, email: str) -> tuple[str, str]:
        """The account's key (its hashed, normalised email) and the (account, address) one."""
        account = ratelimit.hashed(normalize_email(email))
        return account, ratelimit.hashed(f"{account}|{self.ip}")

    async def is_known(self, email: str | None) -> bool:
        """Whether this address logged in to the account with `email` lately (by password
        or SMS code). Without an account, the same store read for no account at all, so
        the work does not tell whether there is one."""
        _, pair = self._pair(email or "")
        known = await ratelimit.is_flagged(self.store, bucket="login:known", key=pair)
        return known and email is not None

    async def remember(self, email: str) -> None:
        """This address logged in to the account with `email`: known to it for a while."""
        _, pair = self._pair(email)
        await ratelimit.flag(
            self.store, bucket="login:known", key=pair, ttl_seconds=KNOWN_ADDRESS_SECONDS
        )

    async def before_login(self, *, email: str) -> LoginAttempt:
        """Counts a login attempt per address and per (account, address); 429 also while
        the account is locked for addresses that have not logged in to it lately."""
        s = self.settings
        account, pair = self._pair(email)
        # One round trip: both counts, then the account's lock and this address's flag.
        known_flag, lock = await ratelimit.hit_all(
            self.store,
            [
                ratelimit.Counted("login:ip", self.ip, self._limit(s.RATE_LIMIT_LOGIN_PER_IP)),
                ratelimit.Counted(
                    "login:email_ip", pair, self._limit(s.RATE_LIMIT_LOGIN_PER_EMAIL_IP)
                ),
            ],
            reads=[
                ratelimit.flag_name("login:known", pair),
                ratelimit.lock_name("login:email", account),
            ],
        )
        known = known_flag is not None
        if not known:
            ratelimit.raise_if_locked(lock)
        return LoginAttempt(account=account, pair=pair, known=known)

    async def login_failed(self, attempt: LoginAttempt) -> None:
        """Counts a failure at the account, towards its lock (known addresses excepted)."""
        if attempt.known:
            return
        await ratelimit.hit_with_backoff(
            self.store,
            bucket="login:email",
            key=attempt.account,
            limit=self._limit(self.settings.RATE_LIMIT_LOGIN_PER_EMAIL),
            max_lock_seconds=self.settings.RATE_LIMIT_LOGIN_BACKOFF_MAX_SECONDS,
        )

    async def login_succeeded(self, attempt: LoginAttempt) -> None:
        await ratelimit.flag(
            self.store, bucket="login:known", key=attempt.pair, ttl_seconds=KNOWN_ADDRESS_SECONDS
        )

    async def check_password(self, *, user_id: uuid.UUID | str) -> None:
        """Counts a password check (or reset) of one account, per account and per address."""
        s = self.settings
        await ratelimit.hit(
            self.store,
            bucket="password:ip",
            key=self.ip,
            limit=self._limit(s.RATE_LIMIT_PASSWORD_PER_IP),
        )
        await ratelimit.hit(
            self.store,
            bucket="password:user",
            key=str(user_id),
            limit=self._limit(s.RATE_LIMIT_PASSWORD_PER_USER),
        )

    async def _hit_ip(self, bucket: str, attempts: int) -> None:
        await ratelimit.hit(self.store, bucket=bucket, key=self.ip, limit=self._limit(attempts))

    async def hit_sms_code(self) -> None:
        """A code request from this client IP (RATE_LIMIT_SMS_PER_IP per window)."""
        await self._hit_ip("sms_code:ip", self.settings.RATE_LIMIT_SMS_PER_IP)

    async def hit_sms_check(self) -> None:
        """A code guessed from this client IP: counted like password logins."""
        await self._hit_ip("sms_check:ip", self.settings.RATE_LIMIT_LOGIN_PER_IP)


async def get_account_rate_limiter(
    request: Request, settings: SettingsDep, store: StoreDep
) -> AccountRateLimiter:
    return AccountRateLimiter(
        store=store, settings=settings, ip=client_ip(request.scope, settings.TRUSTED_PROXIES)
    )


AccountRateLimiterDep = Annotated[AccountRateLimiter, Depends(get_account_rate_limiter)]


async def require_sms(settings: SettingsDep) -> None:
    """503 SMS_DISABLED when SMS_BACKEND is none: no code can be sent, so none checked."""
    if settings.sms_backend == "none":
        raise SmsDisabled


def _phone_error(kind: str, message: str, value: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": kind, "loc": ("body", "phone"), "msg": message, "input": value}]
    )


def body_phone(value: str, settings: Settings) -> str:
    """A phone number from a request body in E.164; a 422 at `["body", "phone"]` like any
    malformed field."""
    try:
        return normalize_phone(value, default_region=settings.SMS_DEFAULT_REGION)
    except InvalidPhoneNumber as exc:
        raise _phone_error("value_error", str(exc), value) from exc


def sms_phone(value: str, settings: Settings) -> str:
    """`body_phone` for a number a code is to be texted to: also a 422 (`phone_not_allowed`)
    for one that is no mobile number of SMS_ALLOWED_REGIONS (paid SMS is capped)."""
    phone = body_phone(value, settings)
    refusal = sms_refusal(phone, allowed_regions=settings.SMS_ALLOWED_REGIONS)
    if refusal is not None:
        raise _phone_error("phone_not_allowed", refusal, value)
    return phone


# OAuth2's password form: grant_type, username, password, scope, client_id, client_secret.
LOGIN_FORM_MAX_FIELDS = 6


async def single_valued_login_form(request: Request) -> None:
    """422 for a login form that sends a field twice (which value would count?). More
    fields than OAuth2's are refused by the route's `form_limits`."""
    names = [name for name, _ in (await request.form()).multi_items()]
    if len(set(names)) != len(names):
        raise RequestValidationError(
            [
                {
                    "type": "too_many_fields",
                    "loc": ("body",),
                    "msg": "A login form has each field at most once",
                    "input": None,
                }
            ]
        )


async def get_user_or_404(user_id: uuid.UUID, user_manager: UserManagerDep) -> User:
    """The user named in the path; 404 when there is none."""
    user = await user_manager.user_db.get(user_id)
    if user is None:
        raise UserNotFound
    return user


UserByIdDep = Annotated[User, Depends(get_user_or_404)]
