"""Authentication: bearer access tokens, and the dependencies routes use to require a user.

`CurrentUser` and `CurrentSuperuser` are what other domains import. Whenever they admit a
request they put the user id in `request.state.user_id`, where the audit trail reads it
(and the session id in `request.state.session_id`, which a password change keeps).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.auth import sessions
from app.auth.errors import Forbidden, Unauthorized
from app.auth.models import User
from app.http.state import AppState, app_state
from app.platform import ratelimit
from app.platform.security import AccessClaims, access_token_expired, decode_access_token
from app.platform.store import STORE_ERRORS, Hit

LOGIN_URL = "/api/v1/auth/jwt/login"

bearer_scheme = OAuth2PasswordBearer(tokenUrl=LOGIN_URL, auto_error=False)


@dataclass(frozen=True)
class Authentication:
    """An admitted request: its user and the claims of the access token it came with."""

    user: User
    claims: AccessClaims


def _claims(token: str | None, state: AppState) -> AccessClaims:
    """The claims of a valid access token; 401 otherwise."""
    if not token:
        raise Unauthorized()
    claims = decode_access_token(token, secret=state.settings.SECRET_KEY)
    if claims is None:
        expired = access_token_expired(token, secret=state.settings.SECRET_KEY)
        raise Unauthorized("expired" if expired else "malformed")
    return claims


def _admit(request: Request, user: User, claims: AccessClaims) -> Authentication:
    request.state.user_id = user.id
    request.state.session_id = claims.session_id
    return Authentication(user=user, claims=claims)


async def authenticate(
    request: Request, token: Annotated[str | None, Depends(bearer_scheme)]
) -> Authentication:
    """An active user with a valid, unrevoked access token; 401 otherwise.

    It runs on nearly every request, so it reads the settings and the store off the app
    state itself: each sub-dependency FastAPI solves costs more than the read."""
    state = app_state(request)
    claims = _claims(token, state)
    user = await sessions.session_user(claims=claims, store=state.store, cache=state.session_cache)
    if user is None or not user.is_active:
        raise Unauthorized("revoked")
    return _admit(request, user, claims)


async def authenticate_counting(
    request: Request, token: str | None, *, bucket: str, limit: ratelimit.Limit
) -> Authentication:
    """`authenticate`, then one attempt counted against `limit` under bucket/the user's
    id (`ratelimit.hit`): 401 before anything is counted, 429 past the limit. When this
    worker's session cache admits the session (after the fill of it under way on this
    worker, if one is), both take one round trip to the store (the count is made only if
    the store confirms the cached session); otherwise they take their own, one after the
    other."""
    state = app_state(request)
    claims = _claims(token, state)
    cache, store = state.session_cache, state.store
    if cache is not None and limit.enabled and ratelimit.store_available(store):
        cached = sessions.cached_admission(claims=claims, cache=cache)
        if cached is None and await sessions.fill_awaited(claims=claims, cache=cache):
            cached = sessions.cached_admission(claims=claims, cache=cache)
        if cached is not None and cached.user.is_active:
            hit = Hit(ratelimit.counter_name(bucket, str(cached.user.id)), *limit.window)
            try:
                _, counted = await store.hit_if(cached.user_key, cached.fill_token, hit)
            except STORE_ERRORS as exc:
                ratelimit.store_failed(store, exc)  # counted in process meanwhile
                counted = None
            if counted is not None:
                authentication = _admit(request, cached.user, claims)
                ratelimit.raise_past(counted, limit)
                return authentication
    authentication = await authenticate(request, token)
    key = str(authentication.user.id)
    await ratelimit.hit(store, bucket=bucket, key=key, limit=limit)
    return authentication


async def current_active_user(
    authentication: Annotated[Authentication, Depends(authenticate)],
) -> User:
    return authentication.user


async def current_superuser(user: Annotated[User, Depends(current_active_user)]) -> User:
    if not user.is_superuser:
        raise Forbidden()
    return user


CurrentAuthentication = Annotated[Authentication, Depends(authenticate)]
CurrentUser = Annotated[User, Depends(current_active_user)]
CurrentSuperuser = Annotated[User, Depends(current_superuser)]
