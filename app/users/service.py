"""Account work outside the manager's hooks: the mails that carry verification and reset
tokens and the notices of a phone bound or removed (sent by the jobs in
app/users/tasks.py), and the user count a public route shows."""

from __future__ import annotations

import logging
import time
import uuid
import weakref
from urllib.parse import urlencode

from app.auth.models import User
from app.notify.mail import MailMessage, MailSender
from app.platform.phone import masked
from app.platform.store import STORE_ERRORS, KeyValueStore
from app.users import passwords
from settings import Settings

logger = logging.getLogger(__name__)

USER_COUNT_KEY = "users:count"

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


async def _active_user(user_id: str) -> User | None:
    user = await User.get_or_none(id=uuid.UUID(user_id))
    return user if user is not None and user.is_active else None


async def send_verify_mail(*, user_id: str, settings: Settings, mail: MailSender) -> None:
    """Mails a fresh verification token; nothing for a verified, inactive or deleted user.
    A refusing or silent mail server raises (the worker retries)."""
    user = await _active_user(user_id)
    if user is None or user.is_verified:
        return
    token = passwords.verify_token(user, settings)
    await mail.send(
        MailMessage(
            to=user.email,
            subject="Confirm your email address for Study Log",
            body=_how_to_use(settings, "verify", VERIFY_ROUTE, token, "confirm your email address"),
        )
    )


async def send_reset_password_mail(*, user_id: str, settings: Settings, mail: MailSender) -> None:
    """Mails a fresh password reset token to an active user; raises like the above."""
    user = await _active_user(user_id)
    if user is None:
        return
    token = await passwords.reset_password_token(user, settings)
    await mail.send(
        MailMessage(
            to=user.email,
            subject="Reset your Study Log password",
            body=(
                "Someone asked to reset the password of this account.\n\n"
                + _how_to_use(
                    settings,
                    "reset-password",
                    RESET_ROUTE,
                    token,
                    "choose a new password (with the token, in the field `password`)",
                )
                + "\nIf it was not you, ignore this mail: nothing changes.\n"
            ),
        )
    )


PHONE_NOTICES = {
    "bound": (
        "A phone number was bound to your Study Log account",
        "The phone number {phone} was bound to your Study Log account: codes texted to it now "
        "log in to the account.",
    ),
    "removed": (
        "The phone number was removed from your Study Log account",
        "The phone number was removed from your Study Log account: codes texted to it no "
        "longer log in.",
    ),
}


async def send_phone_notice(
    *, user_id: str, change: str, settings: Settings, mail: MailSender
) -> None:
    """Tells the account's email that a phone was bound or removed (the number masked);
    nothing for a deleted account or an unknown `change`."""
    del settings  # the notice carries no token
    user = await User.get_or_none(id=uuid.UUID(user_id))
    if user is None or change not in PHONE_NOTICES:
        return
    subject, text = PHONE_NOTICES[change]
    phone = masked(user.phone) if user.phone else "(since removed)"
    await mail.send(
        MailMessage(
            to=user.email,
            subject=subject,
            body=text.format(phone=phone)
            + "\n\nIf it was not you, change your password at once: whoever did it knew it.\n",
        )
    )


# Per store (so per app instance): the count last read, and when it stops being fresh.
_COUNT_MEMO: weakref.WeakKeyDictionary[KeyValueStore, tuple[int, float]] = (
    weakref.WeakKeyDictionary()
)


async def count_users(*, store: KeyValueStore, cache_seconds: float) -> int:
    """The number of accounts, at most `cache_seconds` old.

    The count is cached in the store with the time it was counted; each worker also keeps
    it in memory until that same moment plus `cache_seconds`, so a hot public endpoint costs
    no Redis round trip and is never older than the shared cache allows.
    """
    if cache_seconds <= 0:
        return await User.all().count()
    now = time.time()
    memo = _COUNT_MEMO.get(store)
    if memo is not None and now < memo[1]:
        return memo[0]
    try:
        cached = await store.get(USER_COUNT_KEY)
    except STORE_ERRORS:
        cached = None
    parsed = _parse_count(cached) if cached is not None else None
    if parsed is not None and now < parsed[1] + cache_seconds:
        _COUNT_MEMO[store] = (parsed[0], parsed[1] + cache_seconds)
        return parsed[0]
    count = await User.all().count()
    _COUNT_MEMO[store] = (count, now + cache_seconds)
    try:
        await store.set(USER_COUNT_KEY, f"{count}:{now!r}", ttl_seconds=cache_seconds)
    except STORE_ERRORS:
        logger.warning("user count not cached: the store did not answer")
    return count


def _parse_count(raw: bytes | str) -> tuple[int, float] | None:
    """(count, counted at) from the cached value; None for anything unexpected."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    count, _, counted_at = text.partition(":")
    try:
        return int(count), float(counted_at)
    except ValueError:
        return None


async def invalidate_user_count(store: KeyValueStore) -> None:
    """Drops the cached count, so a registration or deletion shows at once (in this
    process; other workers within their `USER_COUNT_CACHE_SECONDS`)."""
    _COUNT_MEMO.pop(store, None)
    try:
        await store.delete(USER_COUNT_KEY)
    except STORE_ERRORS:
        logger.warning("cached user count not dropped: the store did not answer")
