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
from app.http.state import app_state
from app.platform.security import AccessClaims, access_token_expired, decode_access_token

LOGIN_URL = "/api/v1/auth/jwt/login"

bearer_scheme = OAuth2PasswordBearer(tokenUrl=LOGIN_URL, auto_error=False)


@dataclass(frozen=True)
class Authentication:
    """An admitted request: its user and the claims of the access token it came with."""

    user: User
    claims: AccessClaims


async def authenticate(
    request: Request, token: Annotated[str | None, Depends(bearer_scheme)]
) -> Authentication:
    """An active user with a valid, unrevoked access token; 401 otherwise.

    It runs on nearly every request, so it reads the settings and the store off the app
    state itself: each sub-dependency FastAPI solves costs more than the read."""
    state = app_state(request)
    if not token:
        raise Unauthorized()
    claims = decode_access_token(token, secret=state.settings.SECRET_KEY)
    if claims is None:
        expired = access_token_expired(token, secret=state.settings.SECRET_KEY)
        raise Unauthorized("expired" if expired else "malformed")
    user = await sessions.session_user(claims=claims, store=state.store, cache=state.session_cache)
    if user is None or not user.is_active:
        raise Unauthorized("revoked")
    request.state.user_id = user.id
    request.state.session_id = claims.session_id
    return Authentication(user=user, claims=claims)


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
