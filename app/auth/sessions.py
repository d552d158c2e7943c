"""Login sessions and their tokens, revocation, and the user count.

A login starts an `AuthSession`. Its access tokens (JWT) name it in the `sid` claim; its
refresh tokens are rows that are spent on first use and replaced (rotation). Presenting a
spent refresh token again means it was copied: the whole session is revoked.

Revocation lives in the database (`AuthSession.revoked_at`, or the row gone with its user):
no store outage or flush can bring a revoked token back.

With Redis, each worker keeps admitted sessions for AUTH_CACHE_SECONDS (`SessionCache`), so
most requests cost one Redis GET and no database query. A cache entry is trusted only while
its user's key in Redis still holds the token written when the entry was filled. Every
change to a user or its sessions (logout, password change or reset, deactivation, deletion,
any update) replaces that key with a tombstone, and fills only write into an empty key
(SET NX), so no worker can trust an entry filled before the change. Without Redis (one
process, or workers that cannot share invalidations) every request reads the database.

When an entry expires under a busy client, every request of that session in flight on the
worker misses at once; one of them reads the database and fills, and the others wait for
that fill and then start over (read the user's key again, check the cache), so they are
admitted by the same rule as any request, without a database read each.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import timezone
from tortoise.transactions import in_transaction

from app.auth.models import AuthSession, RefreshToken, User
from app.platform.security import AccessClaims, encode_access_token, hash_token, new_opaque_token
from app.platform.store import STORE_ERRORS, KeyValueStore
from settings import Settings

logger = logging.getLogger(__name__)


TOMBSTONE = b"-"


def user_key(user_id: uuid.UUID | str) -> str:
    """Holds the token of this user's current cache fill, or the tombstone of a change."""
    return f"auth:user:{user_id}"


def _copy(user: User) -> User:
    """What `copy.copy` makes of a model (a Tortoise model keeps all its state in its
    `__dict__`), without copy's protocol lookups: a quarter of its time, on every request
    the cache admits."""
    twin = object.__new__(type(user))
    twin.__dict__.update(user.__dict__)
    return twin


class SessionCache:
    """This worker's recently admitted sessions: session id -> (fill token, user, expiry)."""

    def __init__(self, ttl_seconds: float, *, max_entries: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[uuid.UUID, tuple[bytes, User, float]] = OrderedDict()
        # Sessions being read from the database and filled, each with what its waiters await.
        self._filling: dict[uuid.UUID, asyncio.Event] = {}

    def filling(self, session_id: uuid.UUID) -> asyncio.Event | None:
        """Set when the fill of `session_id` now under way ends (None without one)."""
        return self._filling.get(session_id)

    def begin_fill(self, session_id: uuid.UUID) -> asyncio.Event:
        """Marks a fill of `session_id` under way; `end_fill` with what this returns."""
        done = self._filling[session_id] = asyncio.Event()
        return done

    def end_fill(self, session_id: uuid.UUID, done: asyncio.Event) -> None:
        if self._filling.get(session_id) is done:
            del self._filling[session_id]
        done.set()

    def get(self, session_id: uuid.UUID, token: bytes) -> User | None:
        """A copy of the cached user, if the entry is fresh and `token` is still its fill's."""
        entry = self._entries.get(session_id)
        if entry is None:
            return None
        filled_token, user, expires = entry
        if filled_token != token or expires <= time.monotonic():
            del self._entries[session_id]
            return None
        # A copy: a route may change its user; the cached one stays as the database had it.
        return _copy(user)

    def peek(self, session_id: uuid.UUID) -> tuple[bytes, User] | None:
        """The fresh entry's fill token and user (not a copy), unchecked against the store."""
        entry = self._entries.get(session_id)
        if entry is None or entry[2] <= time.monotonic():
            return None
        return entry[0], entry[1]

    def put(self, session_id: uuid.UUID, token: bytes, user: User) -> None:
        self._entries[session_id] = (token, _copy(user), time.monotonic() + self.ttl_seconds)
        self._entries.move_to_end(session_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


async def invalidate_cached_user(
    *, user_id: uuid.UUID | str, store: KeyValueStore | None, settings: Settings | None = None
) -> None:
    """Makes every worker read this user's sessions from the database again (call it after
    the database change). The tombstone outlives any fill that read the old state."""
    if store is None:
        return
    ttl = max(settings.AUTH_CACHE_SECONDS if settings else 0.0, 1.0) * 2
    try:
        await store.set(user_key(user_id), TOMBSTONE, ttl_seconds=ttl)
    except STORE_ERRORS:
        logger.warning(
            "cached sessions not invalidated (the store did not answer); "
            "they expire within AUTH_CACHE_SECONDS",
            extra={"user_id": str(user_id)},
        )


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


# PostgreSQL: the session and its first refresh token in one statement (atomic on its own).
_START_SESSION_SQL = (
    'WITH "s" AS (INSERT INTO "auth_session" ("id", "user_id", "created_at", "expires_at") '
    'VALUES ($1, $2, $3, $4) RETURNING "id") '
    'INSERT INTO "refresh_token" ("session_id", "token_hash", "created_at", "expires_at") '
    'SELECT "id", $5, $3, $4 FROM "s"'
)


async def start_session(*, user: User, settings: Settings) -> IssuedTokens:
    """A new login session for `user`, with its first access and refresh token: one
    statement on PostgreSQL, two in a transaction on the others."""
    expires_at = _now() + timedelta(seconds=settings.REFRESH_TOKEN_TTL_SECONDS)
    refresh_token = new_opaque_token()
    conn = AuthSession._meta.db  # pylint: disable=protected-access  # Tortoise's public metadata
    if conn.capabilities.dialect == "postgres":
        session_id = uuid.uuid4()
        await conn.execute_query(
            _START_SESSION_SQL,
            [session_id, user.id, timezone.now(), expires_at, hash_token(refresh_token)],
        )
    else:
        async with in_transaction():
            session = await AuthSession.create(user_id=user.id, expires_at=expires_at)
            await RefreshToken.create(
                session_id=session.id, token_hash=hash_token(refresh_token), expires_at=expires_at
            )
        session_id = session.id
    return IssuedTokens(
        access_token=_access_token(user_id=user.id, session_id=session_id, settings=settings),
        refresh_token=refresh_token,
    )


async def refresh_session(
    *, refresh_token: str, settings: Settings, store: KeyValueStore | None = None
) -> IssuedTokens:
    """Spends `refresh_token` for a new pair in the same session; raises RefreshRejected."""
    token = await RefreshToken.get_or_none(token_hash=hash_token(refresh_token)).select_related(
        "session__user"
    )
    if token is None:
        raise RefreshRejected
    session = token.session
    now = _now()
    if token.used_at is not None:
        await _revoke_for_reuse(session, store=store, settings=settings)
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
        await _revoke_for_reuse(session, store=store, settings=settings)
        raise RefreshRejected
    return IssuedTokens(
        access_token=_access_token(
            user_id=session.user.id, session_id=session.id, settings=settings
        ),
        refresh_token=new_refresh_token,
    )


async def _revoke_for_reuse(
    session: AuthSession, *, store: KeyValueStore | None, settings: Settings
) -> None:
    await revoke_session(
        session_id=session.id, user_id=session.user.id, store=store, settings=settings
    )
    logger.warning("a spent refresh token was presented again; its session is revoked")


async def revoke_session(
    *,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
    store: KeyValueStore | None = None,
    settings: Settings | None = None,
) -> None:
    """Ends a login session: its access and refresh tokens stop working everywhere."""
    await AuthSession.filter(id=session_id, revoked_at=None).update(revoked_at=_now())
    await invalidate_cached_user(user_id=user_id, store=store, settings=settings)


async def revoke_user_sessions(
    *,
    user_id: uuid.UUID,
    store: KeyValueStore | None = None,
    settings: Settings | None = None,
    except_session: uuid.UUID | str | None = None,
) -> int:
    """Ends every login session of a user (but `except_session`); the number ended."""
    sessions = AuthSession.filter(user_id=user_id, revoked_at=None)
    if except_session is not None:
        sessions = sessions.exclude(id=except_session)
    ended = await sessions.update(revoked_at=_now())
    await invalidate_cached_user(user_id=user_id, store=store, settings=settings)
    return ended


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def session_user(
    *, claims: AccessClaims, store: KeyValueStore, cache: SessionCache | None = None
) -> User | None:
    """The user of a decoded access token while its session lives; None once revoked."""
    user_id, session_id = _uuid_or_none(claims.subject), _uuid_or_none(claims.session_id)
    if user_id is None or session_id is None:
        return None
    if cache is None:
        return await _session_user_from_database(user_id=user_id, session_id=session_id)
    return await _cached_session_user(user_id, session_id, store, cache, first=True)


async def _cached_session_user(
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    store: KeyValueStore,
    cache: SessionCache,
    *,
    first: bool,
) -> User | None:
    """`session_user` through the cache; started over (`first` false) after waiting for
    another request's fill: the cache if the user's key still holds the token of a fresh
    entry, else the database without a fill (the next request's)."""
    try:
        current = await store.get(user_key(user_id))
    except STORE_ERRORS:
        # Entries cannot be checked, and invalidations may be missed meanwhile: drop them all.
        cache.clear()
        logger.warning("session cache bypassed: the store did not answer")
        return await _session_user_from_database(user_id=user_id, session_id=session_id)
    if current is not None and current != TOMBSTONE:
        cached = cache.get(session_id, current)
        if cached is not None:
            return cached
    if not first:
        return await _session_user_from_database(user_id=user_id, session_id=session_id)
    if current != TOMBSTONE and (under_way := cache.filling(session_id)) is not None:
        # Another request of this session is reading it: wait, then start over (once).
        await under_way.wait()
        return await _cached_session_user(user_id, session_id, store, cache, first=False)
    done = cache.begin_fill(session_id)
    try:
        user = await _session_user_from_database(user_id=user_id, session_id=session_id)
        if user is not None and current != TOMBSTONE:
            await _fill(cache, store, session_id=session_id, user=user, current=current)
    finally:
        cache.end_fill(session_id, done)
    return user


@dataclass(frozen=True, slots=True)
class CachedAdmission:
    """What this worker's cache would admit a token's session as, once the store confirms
    that the user's key still holds `fill_token` (see `session_user`); `user` is a copy,
    as `SessionCache.get` hands out."""

    user_key: str
    fill_token: bytes
    user: User


def cached_admission(*, claims: AccessClaims, cache: SessionCache) -> CachedAdmission | None:
    """The cache's fresh entry for the token's session, to be confirmed by the caller in
    the store (in one round trip with what else it needs there); None without one."""
    user_id, session_id = _uuid_or_none(claims.subject), _uuid_or_none(claims.session_id)
    if user_id is None or session_id is None:
        return None
    entry = cache.peek(session_id)
    if entry is None or entry[1].id != user_id:
        return None
    return CachedAdmission(user_key(user_id), entry[0], _copy(entry[1]))


async def fill_awaited(*, claims: AccessClaims, cache: SessionCache) -> bool:
    """Waits for the fill of the token's session under way on this worker, if there is one
    (True then: the cache may now hold the session)."""
    session_id = _uuid_or_none(claims.session_id)
    under_way = cache.filling(session_id) if session_id is not None else None
    if under_way is None:
        return False
    await under_way.wait()
    return True


async def _fill(
    cache: SessionCache,
    store: KeyValueStore,
    *,
    session_id: uuid.UUID,
    user: User,
    current: bytes | None,
) -> None:
    """Caches a session read from the database, under a token no change has replaced."""
    token = current
    if token is None:
        token = new_opaque_token().encode()
        try:
            # Only into an empty key: a change since our read left a tombstone there.
            if not await store.add(user_key(user.id), token, ttl_seconds=cache.ttl_seconds):
                return
        except STORE_ERRORS:
            return
    cache.put(session_id, token, user)


async def _session_user_from_database(*, user_id: uuid.UUID, session_id: uuid.UUID) -> User | None:
    session = await AuthSession.get_or_none(
        id=session_id, user_id=user_id, revoked_at=None
    ).select_related("user")
    return session.user if session is not None else None


async def existing_user_ids(user_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `user_ids` that still have an account."""
    return set(await User.filter(id__in=user_ids).values_list("id", flat=True))
