"""Phone numbers of accounts, and the SMS codes that prove them.

A code is 6 random digits. The store keeps only its HMAC under SECRET_KEY, bound to the
phone and the purpose (`login`, or `bind` for one user), for SMS_CODE_TTL_SECONDS; a right
guess spends it, SMS_MAX_ATTEMPTS wrong ones destroy it, atomically (app/core/store.py).
The code itself leaves this process only sealed (AES-GCM under a key derived from
SECRET_KEY) inside the job that sends it, so the broker and a worker's log of task
arguments never show it; the job opens the seal, checks that the code is still waiting
(not used, replaced or expired) and sends it.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Literal

from tortoise.exceptions import IntegrityError

from app.core import ratelimit
from app.core.jobs import JobContext, Jobs
from app.core.phone import masked
from app.core.security import SealBroken, keyed_digest, seal, unseal
from app.core.sms import SmsRefused
from app.core.store import KeyValueStore
from app.users import service
from app.users.models import User
from settings import Settings

logger = logging.getLogger(__name__)

Purpose = Literal["login", "bind"]
CODE_DIGITS = 6
SEAL_PURPOSE = "sms-code"


class PhoneTaken(Exception):
    """Another account has this phone number."""


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_key(purpose: Purpose, phone: str) -> str:
    return f"sms:code:{purpose}:{ratelimit.hashed(phone)}"


def code_digest(
    settings: Settings, *, purpose: Purpose, phone: str, code: str, user_id: str = ""
) -> str:
    """What the store keeps of a code: good only for this phone, purpose (and binding user)."""
    return keyed_digest(settings.SECRET_KEY, "sms-code", purpose, phone, user_id, code)


def _seconds_to_utc_midnight() -> tuple[str, int]:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return now.date().isoformat(), max(1, int((midnight - now).total_seconds()) + 1)


async def count_code_request(*, phone: str, store: KeyValueStore, settings: Settings) -> None:
    """The resend wait and the daily cap of a phone; 429 (RateLimitExceeded) past either.
    Counted whether or not an account has the phone, so the answers tell nothing."""
    key = ratelimit.hashed(phone)
    if settings.SMS_RESEND_SECONDS > 0:
        await ratelimit.hit(
            store,
            bucket="sms:resend",
            key=key,
            limit=ratelimit.Limit(1, settings.SMS_RESEND_SECONDS),
        )
    day, seconds_left = _seconds_to_utc_midnight()
    await ratelimit.hit(
        store,
        bucket=f"sms:day:{day}",
        key=key,
        limit=ratelimit.Limit(settings.SMS_DAILY_LIMIT_PER_PHONE, seconds_left),
    )


async def send_new_code(
    *,
    purpose: Purpose,
    phone: str,
    user_id: str = "",
    store: KeyValueStore,
    settings: Settings,
    jobs: Jobs,
) -> None:
    """Replaces the phone's waiting code for `purpose` with a new one and queues its SMS."""
    code = new_code()
    ttl = settings.SMS_CODE_TTL_SECONDS
    digest = code_digest(settings, purpose=purpose, phone=phone, code=code, user_id=user_id)
    await store.set_one_time(code_key(purpose, phone), digest, ttl_seconds=ttl)
    sealed = seal(
        json.dumps(
            {
                "code": code,
                "phone": phone,
                "purpose": purpose,
                "user_id": user_id,
                "expires": time.time() + ttl,
            }
        ),
        secret=settings.SECRET_KEY,
        purpose=SEAL_PURPOSE,
    )
    await jobs.submit(send_sms_code, phone=phone, sealed_code=sealed)


async def store_decoy_code(*, phone: str, store: KeyValueStore, settings: Settings) -> None:
    """What `send_new_code` does for a login code, for a phone without an account: a code
    nobody is told is stored the same way (the same store write, sealed the same way), so
    the answer does not come back sooner; nothing is queued or sent. An inactive account's
    waiting code, if any, is replaced: it cannot log in anyway."""
    code = new_code()
    ttl = settings.SMS_CODE_TTL_SECONDS
    digest = code_digest(settings, purpose="login", phone=phone, code=code)
    await store.set_one_time(code_key("login", phone), digest, ttl_seconds=ttl)
    seal(
        json.dumps(
            {
                "code": code,
                "phone": phone,
                "purpose": "login",
                "user_id": "",
                "expires": time.time() + ttl,
            }
        ),
        secret=settings.SECRET_KEY,
        purpose=SEAL_PURPOSE,
    )


async def spend_code(
    *,
    purpose: Purpose,
    phone: str,
    code: str,
    user_id: str = "",
    store: KeyValueStore,
    settings: Settings,
) -> bool:
    """Whether `code` is the phone's waiting code for `purpose`; a right one is spent, a
    wrong one counts toward SMS_MAX_ATTEMPTS."""
    digest = code_digest(settings, purpose=purpose, phone=phone, code=code, user_id=user_id)
    return await store.spend_one_time(
        code_key(purpose, phone), digest, max_misses=settings.SMS_MAX_ATTEMPTS
    )


async def taken_by_another(*, phone: str, user: User) -> bool:
    return await User.filter(phone=phone).exclude(id=user.id).exists()


async def set_phone(
    *, user: User, phone: str | None, store: KeyValueStore | None, settings: Settings
) -> User:
    """Binds `phone` (E.164) to the account, or clears it with None; PhoneTaken when
    another account has it (checked, and held by the unique index against a race)."""
    if phone is not None and await taken_by_another(phone=phone, user=user):
        raise PhoneTaken(phone)
    previous, user.phone = user.phone, phone
    try:
        await user.save(update_fields=["phone"])
    except IntegrityError as exc:
        user.phone = previous
        raise PhoneTaken(phone) from exc
    await service.forget_cached_user(user_id=user.id, store=store, settings=settings)
    return user


# --- the job (run by a worker, or by the web process without a broker) --------------------


async def send_sms_code(ctx: JobContext, *, phone: str, sealed_code: str) -> None:
    """Sends a sealed code if it is still waiting; nothing for one used, replaced or
    expired meanwhile. Raises SmsRetryable when a later try may succeed (the worker
    retries); a refusal is logged and given up."""
    try:
        sealed = json.loads(
            unseal(sealed_code, secret=ctx.settings.SECRET_KEY, purpose=SEAL_PURPOSE)
        )
    except SealBroken:
        logger.error("SMS job for %s dropped: its seal does not open", masked(phone))
        return
    if sealed["phone"] != phone or sealed["expires"] <= time.time():
        logger.info("SMS code for %s expired before it was sent", masked(phone))
        return
    purpose: Purpose = sealed["purpose"]
    code: str = sealed["code"]
    digest = code_digest(
        ctx.settings, purpose=purpose, phone=phone, code=code, user_id=sealed["user_id"]
    )
    if await ctx.store.get_one_time(code_key(purpose, phone)) != digest:
        logger.info("SMS code for %s no longer waiting (used or replaced): not sent", masked(phone))
        return
    try:
        await ctx.sms.send_code(phone=phone, code=code)
    except SmsRefused as exc:
        logger.error("SMS to %s refused, not retried: %s", masked(phone), exc)
