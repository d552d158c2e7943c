"""Phone numbers of accounts and the SMS codes that prove them: asking for a code (the
resend wait and daily cap per phone, counted apart for addresses known to the phone's
account and for strangers), checking one (a right guess spends it; wrong ones count per
address and, from strangers, toward a ceiling per code, atomically: app/platform/store.py),
binding a phone, and which of these an SMS route does (`request_code`, `log_in_user`,
`bind_with_code`). What a code is and how it travels sealed is app/users/codes.py."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError

from app.auth import sessions
from app.auth.models import User
from app.jobs.runner import Jobs
from app.platform import metrics, ratelimit
from app.platform.store import Guess, KeyValueStore
from app.users import errors, tasks
from app.users.codes import Purpose, code_digest, code_key, login_code_keys, new_code, sealed
from app.users.dependencies import AccountRateLimiter
from settings import Settings

logger = logging.getLogger(__name__)


def _seconds_to_utc_midnight() -> tuple[str, int]:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return now.date().isoformat(), max(1, int((midnight - now).total_seconds()) + 1)


async def count_code_request(
    *, phone: str, known: bool, store: KeyValueStore, settings: Settings
) -> None:
    """The resend wait and the daily cap of a phone; 429 (RateLimitExceeded) past either.
    Each is counted apart for codes asked from an address `known` to the phone's account
    (SMS_DAILY_LIMIT_PER_PHONE a day) and for unsolicited ones, asked from any other
    address (SMS_UNSOLICITED_PER_PHONE_PER_DAY), so strangers cannot spend the owner's
    budget. A stranger is counted alike whether or not an account has the phone."""
    key = ratelimit.hashed(phone)
    kind = "known" if known else "unsolicited"
    if settings.SMS_RESEND_SECONDS > 0:
        await ratelimit.hit(
            store,
            bucket=f"sms:resend:{kind}",
            key=key,
            limit=ratelimit.Limit(1, settings.SMS_RESEND_SECONDS),
        )
    day, seconds_left = _seconds_to_utc_midnight()
    per_day = (
        settings.SMS_DAILY_LIMIT_PER_PHONE if known else settings.SMS_UNSOLICITED_PER_PHONE_PER_DAY
    )
    await ratelimit.hit(
        store,
        bucket=f"sms:day:{kind}:{day}",
        key=key,
        limit=ratelimit.Limit(per_day, seconds_left),
    )


async def count_bind_request(*, user_id: str, store: KeyValueStore, settings: Settings) -> None:
    """The bind codes one account may ask for (to any numbers), per hour and per UTC day;
    429 past either."""
    await ratelimit.hit(
        store,
        bucket="sms:bind:hour",
        key=user_id,
        limit=ratelimit.Limit(settings.SMS_BIND_CODES_PER_ACCOUNT_HOUR, 3600),
    )
    day, seconds_left = _seconds_to_utc_midnight()
    await ratelimit.hit(
        store,
        bucket=f"sms:bind:day:{day}",
        key=user_id,
        limit=ratelimit.Limit(settings.SMS_BIND_CODES_PER_ACCOUNT_DAY, seconds_left),
    )


async def count_service_wide(*, store: KeyValueStore, settings: Settings) -> None:
    """The service-wide ceiling of SMS_MAX_PER_HOUR code requests an hour (sent or decoy, so
    the answer tells nothing): past it, 503 SmsCapacityReached, counted and logged."""
    try:
        await ratelimit.hit(
            store,
            bucket="sms:service",
            key="hour",
            limit=ratelimit.Limit(settings.SMS_MAX_PER_HOUR, 3600),
        )
    except ratelimit.RateLimitExceeded as exc:
        metrics.SMS_CAPACITY_REFUSALS.inc()
        logger.warning(
            "SMS_MAX_PER_HOUR (%d) reached: SMS code requests answer 503 for %d s",
            settings.SMS_MAX_PER_HOUR,
            exc.retry_after,
        )
        raise errors.SmsCapacityReached(exc.retry_after) from exc


async def send_new_code(
    *,
    purpose: Purpose,
    phone: str,
    user_id: str = "",
    known: bool = False,
    store: KeyValueStore,
    settings: Settings,
    jobs: Jobs,
) -> None:
    """Replaces the phone's waiting code for `purpose` (a login code: the one in its place
    for `known` addresses or for the others) with a new one and queues its SMS."""
    code = new_code()
    digest = code_digest(settings, purpose=purpose, phone=phone, code=code, user_id=user_id)
    await store.set_one_time(
        code_key(purpose, phone, user_id, known=known),
        digest,
        ttl_seconds=settings.SMS_CODE_TTL_SECONDS,
    )
    sealed_code = sealed(
        code=code, phone=phone, purpose=purpose, user_id=user_id, settings=settings, known=known
    )
    await jobs.submit(tasks.send_sms_code, phone=phone, sealed_code=sealed_code)


async def store_decoy_code(
    *, phone: str, store: KeyValueStore, settings: Settings, jobs: Jobs
) -> None:
    """What `send_new_code` does for a login code, for a phone without an account: a code
    nobody is told is stored the same way (the same store write, sealed the same way), so
    the answer does not come back sooner; a job that sends nothing is queued. An inactive account's
    waiting code, if any, is replaced: it cannot log in anyway."""
    code = new_code()
    digest = code_digest(settings, purpose="login", phone=phone, code=code)
    await store.set_one_time(
        code_key("login", phone), digest, ttl_seconds=settings.SMS_CODE_TTL_SECONDS
    )
    decoy = sealed(
        code=code, phone=phone, purpose="login", user_id="", settings=settings, send=False
    )
    # The same job, marked (inside the seal) to send nothing: the broker round trip, and
    # a 503 while the broker is away, are the same as for a phone with an account.
    await jobs.submit(tasks.send_sms_code, phone=phone, sealed_code=decoy)


def guess_from(address: str, *, settings: Settings, known: bool) -> Guess:
    """A code guessed from `address` (a client address key): SMS_MAX_ATTEMPTS wrong ones
    of its own per code; unless the address is known to the account, its misses also
    count toward the code's SMS_CODE_GUESS_CEILING (strangers together)."""
    return Guess(
        guesser=address,
        max_misses=settings.SMS_MAX_ATTEMPTS,
        ceiling=settings.SMS_CODE_GUESS_CEILING,
        capped=not known,
    )


async def spend_code(
    *,
    purpose: Purpose,
    phone: str,
    code: str,
    guess: Guess,
    user_id: str = "",
    store: KeyValueStore,
    settings: Settings,
) -> bool:
    """Whether `code` is one of the phone's waiting codes for `purpose` still open to the
    guesser; a right one is spent, a wrong one counted (see `guess_from`)."""
    digest = code_digest(settings, purpose=purpose, phone=phone, code=code, user_id=user_id)
    keys = login_code_keys(phone) if purpose == "login" else (code_key(purpose, phone, user_id),)
    return await store.spend_one_time(keys, digest, guess=guess)


async def taken_by_another(*, phone: str, user: User) -> bool:
    return await User.filter(phone=phone).exclude(id=user.id).exists()


async def set_phone(
    *, user: User, phone: str | None, store: KeyValueStore | None, settings: Settings
) -> User:
    """Binds `phone` (E.164) to the account, or clears it with None; PhoneTaken when
    another account has it (checked, and held by the unique index against a race)."""
    if phone is not None and await taken_by_another(phone=phone, user=user):
        raise errors.PhoneTaken
    previous, user.phone = user.phone, phone
    try:
        await user.save(update_fields=["phone"])
    except IntegrityError as exc:
        user.phone = previous
        raise errors.PhoneTaken from exc
    await sessions.invalidate_cached_user(user_id=user.id, store=store, settings=settings)
    return user


async def request_code(
    *,
    phone: str,
    user: User | None,
    limiter: AccountRateLimiter,
    store: KeyValueStore,
    settings: Settings,
    jobs: Jobs,
) -> None:
    """Texts a code to `phone`: to bind it to `user`, or without one to log in. A login
    code is sent only to a phone an active account has; for any other a decoy is stored,
    so the answer tells nothing. PhoneTaken when binding a phone another account has.

    A code asked from an address that logged in to the phone's account (or a bind code
    asked by the account that has the phone) counts against the phone's own daily budget;
    any other is unsolicited and counts against the strangers' budget."""
    owner: User | None = None
    if user is not None:
        # An account's bind codes first: one account past its limits spends no phone's budget.
        await count_bind_request(user_id=str(user.id), store=store, settings=settings)
        known = user.phone == phone
    else:
        owner = await User.get_or_none(phone=phone, is_active=True)
        known = await limiter.is_known(owner.email if owner is not None else None)
    # Counted per phone before anything that depends on who has it, so probing whether a
    # number is taken is bounded per number like asking for codes (for a stranger, alike
    # whether or not an account has it).
    await count_code_request(phone=phone, known=known, store=store, settings=settings)
    if user is not None and await taken_by_another(phone=phone, user=user):
        raise errors.PhoneTaken
    await count_service_wide(store=store, settings=settings)
    if user is not None:
        await send_new_code(
            purpose="bind",
            phone=phone,
            user_id=str(user.id),
            store=store,
            settings=settings,
            jobs=jobs,
        )
    elif owner is not None:
        await send_new_code(
            purpose="login", phone=phone, known=known, store=store, settings=settings, jobs=jobs
        )
    else:
        await store_decoy_code(phone=phone, store=store, settings=settings, jobs=jobs)


async def log_in_user(
    *, phone: str, code: str, limiter: AccountRateLimiter, store: KeyValueStore, settings: Settings
) -> User:
    """The active account that has `phone`, its login `code` spent; LoginBadCode for a
    wrong code or no such account (the code is checked either way). A guess from an
    address known to the account is not capped with the strangers' (`guess_from`); a
    login makes the address known to the account, as a password login does."""
    user = await User.get_or_none(phone=phone)
    known = await limiter.is_known(user.email if user is not None else None)
    spent = await spend_code(
        purpose="login",
        phone=phone,
        code=code,
        guess=guess_from(limiter.ip, settings=settings, known=known),
        store=store,
        settings=settings,
    )
    if not spent or user is None or not user.is_active:
        raise errors.LoginBadCode
    await limiter.remember(user.email)
    return user


async def bind_with_code(
    *,
    user: User,
    phone: str,
    code: str,
    limiter: AccountRateLimiter,
    store: KeyValueStore,
    settings: Settings,
    jobs: Jobs,
) -> User:
    """Binds `phone` to `user` with the bind `code` texted to it and mails the account a
    notice; PhoneBadCode for a wrong code, PhoneTaken when another account has the phone.
    The caller has checked the password: a phone logs in, so a stolen token alone must not
    bind one."""
    # The code first: only the holder of a code texted to the phone (each one counted per
    # phone) learns that another account has the number.
    spent = await spend_code(
        purpose="bind",
        phone=phone,
        code=code,
        guess=guess_from(limiter.ip, settings=settings, known=False),
        user_id=str(user.id),
        store=store,
        settings=settings,
    )
    if not spent:
        raise errors.PhoneBadCode
    user = await set_phone(user=user, phone=phone, store=store, settings=settings)
    await jobs.submit(tasks.send_phone_notice, user_id=str(user.id), change="bound")
    return user


async def remove_phone(*, user: User, store: KeyValueStore, settings: Settings, jobs: Jobs) -> User:
    """Clears the account's phone (the caller has checked the password) and mails the
    account a notice when there was one."""
    had_phone = user.phone is not None
    user = await set_phone(user=user, phone=None, store=store, settings=settings)
    if had_phone:
        await jobs.submit(tasks.send_phone_notice, user_id=str(user.id), change="removed")
    return user
