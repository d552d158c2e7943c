"""Login sessions and their tokens, revocation, and the user count.

A login starts an `AuthSession`. Its access tokens (JWT) name it in the `sid` claim; its
refresh tokens are rows that are spent on first use and replaced (rotation). Presenting a
spent refresh token again means it was copied: the whole session is revoked.

Revocation lives in the database (`AuthSession.revoked_at`, or the row gone with its user),
which every authenticated request reads together with the user in one query; so no store
outage or flush can bring a revoked token back. The store holds one entry per logged-out
`jti` until that token expires, which turns such a token away without the query.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError
from tortoise.transactions import in_transaction

from app.core.security import AccessClaims, encode_access_token, hash_token, new_opaque_token
from app.core.store import KeyValueStore
from app.users.models import AuthSession, RefreshToken, User
from settings import Settings

logger = logging.getLogger(__name__)

USER_COUNT_KEY = "users:count"
STORE_ERRORS = (RedisError, OSError)


def revoked_jti_key(jti: str) -> str:
    return f"auth:revoked:{jti}"


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str


class RefreshRejected(Exception):
    """The refresh token is unknown, spent, expired, or its session or user is gone."""


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _access_token(*, user_id: uuid.UUID, session_id: uuid.UUID, settings: Settings) -> str:
    return encode_access_token(
        subject=str(user_id),
        session_id=str(session_id),
        secret=settings.SECRET_KEY,
        lifetime_seconds=settings.ACCESS_TOKEN_TTL_SECONDS,
    )


async def start_session(*, user: User, settings: Settings) -> IssuedTokens:
    """A new login session for `user`, with its first access and refresh token."""
    expires_at = _now() + timedelta(seconds=settings.REFRESH_TOKEN_TTL_SECONDS)
    refresh_token = new_opaque_token()
    async with in_transaction():
        session = await AuthSession.create(user_id=user.id, expires_at=expires_at)
        await RefreshToken.create(
            session_id=session.id, token_hash=hash_token(refresh_token), expires_at=expires_at
        )
    return IssuedTokens(
        access_token=_access_token(user_id=user.id, session_id=session.id, settings=settings),
        refresh_token=refresh_token,
    )


async def refresh_session(*, refresh_token: str, settings: Settings) -> IssuedTokens:
    """Spends `refresh_token` for a new pair in the same session; raises RefreshRejected."""
    token = await RefreshToken.get_or_none(token_hash=hash_token(refresh_token)).select_related(
        "session__user"
    )
    if token is None:
        raise RefreshRejected
    session = token.session
    now = _now()
    if token.used_at is not None:
        await _revoke_for_reuse(session.id)
        raise RefreshRejected
    if (
        session.revoked_at is not None
        or _aware(token.expires_at) <= now
        or not session.user.is_active
    ):
        raise RefreshRejected
    new_refresh_token = new_opaque_token()
    expires_at = now + timedelta(seconds=settings.REFRESH_TOKEN_TTL_SECONDS)
    async with in_transaction():
        # Conditional, so of two concurrent uses of one token exactly one wins.
        claimed = await RefreshToken.filter(id=token.id, used_at=None).update(used_at=now)
        if claimed:
            await RefreshToken.create(
                session_id=session.id,
                token_hash=hash_token(new_refresh_token),
                expires_at=expires_at,
            )
            await AuthSession.filter(id=session.id).update(expires_at=expires_at)
    if not claimed:
        await _revoke_for_reuse(session.id)
        raise RefreshRejected
    return IssuedTokens(
        access_token=_access_token(
            user_id=session.user.id, session_id=session.id, settings=settings
        ),
        refresh_token=new_refresh_token,
    )


async def _revoke_for_reuse(session_id: uuid.UUID) -> None:
    await revoke_session(session_id=session_id)
    logger.warning("a spent refresh token was presented again; its session is revoked")


async def revoke_session(
    *,
    session_id: uuid.UUID,
    store: KeyValueStore | None = None,
    claims: AccessClaims | None = None,
) -> None:
    """Ends a login session (its access and refresh tokens), and caches the access token's
    revocation in the store when its claims are given."""
    await AuthSession.filter(id=session_id, revoked_at=None).update(revoked_at=_now())
    if store is None or claims is None:
        return
    remaining = (claims.expires_at - _now()).total_seconds()
    if remaining <= 0:
        return
    try:
        await store.set(revoked_jti_key(claims.jti), b"1", ttl_seconds=remaining)
    except STORE_ERRORS:
        logger.warning("logout not cached in the store; the database still refuses the token")


async def revoke_user_sessions(*, user_id: uuid.UUID) -> int:
    """Ends every login session of a user; the number ended."""
    return await AuthSession.filter(user_id=user_id, revoked_at=None).update(revoked_at=_now())


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def session_user(*, claims: AccessClaims, store: KeyValueStore) -> User | None:
    """The user of a decoded access token while its session lives; None once revoked."""
    user_id, session_id = _uuid_or_none(claims.subject), _uuid_or_none(claims.session_id)
    if user_id is None or session_id is None:
        return None
    try:
        if await store.exists(revoked_jti_key(claims.jti)):
            return None
    except STORE_ERRORS:
        logger.warning("revocation cache unavailable; checking the database only")
    session = await AuthSession.get_or_none(
        id=session_id, user_id=user_id, revoked_at=None
    ).select_related("user")
    return session.user if session is not None else None


async def count_users(*, store: KeyValueStore, cache_seconds: float) -> int:
    """The number of accounts, at most `cache_seconds` old."""
    if cache_seconds > 0:
        try:
            cached = await store.get(USER_COUNT_KEY)
        except STORE_ERRORS:
            cached = None
        if cached is not None:
            return int(cached)
    count = await User.all().count()
    if cache_seconds > 0:
        try:
            await store.set(USER_COUNT_KEY, str(count), ttl_seconds=cache_seconds)
        except STORE_ERRORS:
            logger.warning("user count not cached: the store did not answer")
    return count


async def forget_user_count(store: KeyValueStore) -> None:
    """Drops the cached count, so a registration or deletion shows at once."""
    try:
        await store.delete(USER_COUNT_KEY)
    except STORE_ERRORS:
        logger.warning("cached user count not dropped: the store did not answer")
