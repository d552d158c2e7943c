"""SMS codes: what the store keeps of one, and the sealed form in which a code travels to
the job that sends it.

A code is 6 random digits. The store keeps only its HMAC under SECRET_KEY, bound to the
phone and the purpose (`login`, or `bind` for one user), for SMS_CODE_TTL_SECONDS. The code
itself leaves the web process only sealed (AES-GCM under a key derived from SECRET_KEY)
inside the job that sends it, so the broker and a worker's log of task arguments never show
it; the job opens the seal, checks that the code is still waiting (not used, replaced or
expired) and sends it.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Literal

from app.notify.sms import SmsRefused, SmsSender, SmsUnanswered
from app.platform import ratelimit
from app.platform.phone import masked
from app.platform.security import SealBroken, keyed_digest, seal, unseal
from app.platform.store import KeyValueStore
from settings import Settings

logger = logging.getLogger(__name__)

Purpose = Literal["login", "bind"]
CODE_DIGITS = 6
SEAL_PURPOSE = "sms-code"


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_key(purpose: Purpose, phone: str, user_id: str = "", *, known: bool = False) -> str:
    """Where a phone's waiting code is kept: a bind code per (account, phone), so another
    account's request for the number cannot replace it; a login code per phone in one of
    two places, for a request from an address known to the phone's account and for any
    other, so a stranger's request cannot replace the owner's code."""
    if purpose == "bind":
        return f"sms:code:bind:{ratelimit.hashed(phone)}:{user_id}"
    place = ":known" if known else ""
    return f"sms:code:{purpose}:{ratelimit.hashed(phone)}{place}"


def login_code_keys(phone: str) -> tuple[str, str]:
    """Both places of a phone's login codes: a guess is checked against each."""
    return code_key("login", phone, known=True), code_key("login", phone)


def code_digest(
    settings: Settings, *, purpose: Purpose, phone: str, code: str, user_id: str = ""
) -> str:
    """What the store keeps of a code: good only for this phone, purpose (and binding user)."""
    return keyed_digest(settings.SECRET_KEY, "sms-code", purpose, phone, user_id, code)


def sealed(
    *,
    code: str,
    phone: str,
    purpose: Purpose,
    user_id: str,
    settings: Settings,
    send: bool = True,
    known: bool = False,
) -> str:
    """The code as it travels in a job: readable only with SECRET_KEY, good until its TTL,
    with the OutId every try of this one message is sent with."""
    return seal(
        json.dumps(
            {
                "code": code,
                "out_id": secrets.token_hex(16),
                "send": send,
                "phone": phone,
                "purpose": purpose,
                "user_id": user_id,
                "known": known,
                "expires": time.time() + settings.SMS_CODE_TTL_SECONDS,
            }
        ),
        secret=settings.SECRET_KEY,
        purpose=SEAL_PURPOSE,
    )


async def deliver(
    *, phone: str, sealed_code: str, settings: Settings, store: KeyValueStore, sms: SmsSender
) -> None:
    """Sends a sealed code if it is still waiting; nothing for one used, replaced or
    expired meanwhile. Raises SmsRetryable when a later try may succeed (the worker
    retries); a refusal is logged and given up."""
    try:
        sealed = json.loads(unseal(sealed_code, secret=settings.SECRET_KEY, purpose=SEAL_PURPOSE))
    except SealBroken:
        logger.error("SMS job for %s dropped: its seal does not open", masked(phone))
        return
    if not sealed.get("send", True):
        return  # a decoy: queued so that a phone without an account answers the same
    if sealed["phone"] != phone or sealed["expires"] <= time.time():
        logger.info("SMS code for %s expired before it was sent", masked(phone))
        return
    purpose: Purpose = sealed["purpose"]
    code: str = sealed["code"]
    digest = code_digest(
        settings, purpose=purpose, phone=phone, code=code, user_id=sealed["user_id"]
    )
    key = code_key(purpose, phone, sealed["user_id"], known=bool(sealed.get("known")))
    if await store.get_one_time(key) != digest:
        logger.info("SMS code for %s no longer waiting (used or replaced): not sent", masked(phone))
        return
    out_id = str(sealed.get("out_id", ""))
    try:
        await sms.send_code(phone=phone, code=code, out_id=out_id)
    except SmsRefused as exc:
        logger.error("SMS to %s refused, not retried: %s", masked(phone), exc)
    except SmsUnanswered as exc:
        # It may have gone out: one more try at most, so a slow provider texts the same
        # code twice at worst, never once per retry.
        key = f"sms:unanswered:{out_id or digest}"
        if await store.add(key, "1", ttl_seconds=settings.SMS_CODE_TTL_SECONDS):
            raise
        logger.error(
            "SMS to %s (OutId %s) unanswered twice, not retried (it may have been sent): %s",
            masked(phone),
            out_id,
            exc,
        )
