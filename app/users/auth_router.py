"""Sign-up and login routes under /api/v1/auth, with fastapi-users' paths and error codes:
register, password and SMS login, refresh and logout, and the mailed reset and
verification tokens.

Built here rather than taken from fastapi-users' router factories: login also returns a
refresh token, logout really revokes, and the limited routes count attempts by IP and
email. What each does is app/users/accounts.py.
"""

import uuid
from typing import Annotated

from fastapi import Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from app.auth import sessions
from app.auth.dependencies import CurrentAuthentication
from app.http.openapi import errors
from app.http.routing import FormLimitRoute, GatedRouter
from app.http.state import SettingsDep, StoreDep
from app.users import accounts
from app.users.dependencies import (
    LOGIN_FORM_MAX_FIELDS,
    AccountRateLimiterDep,
    single_valued_login_form,
)
from app.users.manager import UserManagerDep
from app.users.phone_router import sms
from app.users.schemas import (
    EmailRequest,
    RefreshRequest,
    ResetPasswordRequest,
    TokenPair,
    UserCreate,
    UserRead,
    VerifyRequest,
)

# The app mounts it under /api/v1 on its own: a router in between would cost FastAPI one
# more scan of its routes per request. The login form's field limit answers 422
# (FormLimitRoute).
auth = GatedRouter(prefix="/auth", tags=["auth"], route_class=FormLimitRoute)


@auth.post(
    "/register",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    name="register",
    responses=errors(400, 429, 503),
)
async def register(
    request: Request,
    user_in: UserCreate,
    user_manager: UserManagerDep,
    limiter: AccountRateLimiterDep,
) -> UserRead:
    """Create an account."""
    user = await accounts.register(
        user_in, user_manager=user_manager, limiter=limiter, request=request
    )
    return UserRead.model_validate(user)


@auth.post(
    "/jwt/login",
    response_model=TokenPair,
    name="login",
    responses=errors(400, 429, 503),
    dependencies=[Depends(single_valued_login_form)],
    form_limits={"max_fields": LOGIN_FORM_MAX_FIELDS},
)
async def login(
    request: Request,
    credentials: Annotated[OAuth2PasswordRequestForm, Depends()],
    user_manager: UserManagerDep,
    limiter: AccountRateLimiterDep,
    settings: SettingsDep,
) -> TokenPair:
    """Log in with email (as `username`) and password: an access and a refresh token."""
    return await accounts.log_in(
        credentials, user_manager=user_manager, limiter=limiter, settings=settings, request=request
    )


@auth.post(
    "/jwt/refresh",
    response_model=TokenPair,
    name="refresh",
    responses=errors(
        401, 503, descriptions={401: "The refresh token is unknown, spent, expired or revoked."}
    ),
)
async def refresh(body: RefreshRequest, settings: SettingsDep, store: StoreDep) -> TokenPair:
    """Spend a refresh token for a new access and refresh token."""
    return await accounts.refresh(refresh_token=body.refresh_token, settings=settings, store=store)


@auth.post(
    "/jwt/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    name="logout",
    responses=errors(401, 503),
)
async def logout(
    authentication: CurrentAuthentication, store: StoreDep, settings: SettingsDep
) -> None:
    """End this login: its access and refresh tokens stop working everywhere."""
    await sessions.revoke_session(
        session_id=uuid.UUID(authentication.claims.session_id),
        user_id=authentication.user.id,
        store=store,
        settings=settings,
    )


# The SMS login routes (app/users/phone_router.py) next to the password login, where the
# OpenAPI document lists them.
auth.routes.extend(sms.routes)


@auth.post(
    "/forgot-password",
    status_code=status.HTTP_202_ACCEPTED,
    name="forgot_password",
    responses=errors(429, 503),
)
async def forgot_password(
    request: Request,
    body: EmailRequest,
    user_manager: UserManagerDep,
    limiter: AccountRateLimiterDep,
) -> None:
    """Mail a password reset token, if the email has an active account (the answer is the same)."""
    await accounts.forgot_password(
        body.email, user_manager=user_manager, limiter=limiter, request=request
    )


@auth.post("/reset-password", name="reset_password", responses=errors(400, 429, 503))
async def reset_password(
    request: Request,
    body: ResetPasswordRequest,
    user_manager: UserManagerDep,
    limiter: AccountRateLimiterDep,
) -> None:
    """Set a new password with a mailed reset token; the user's other tokens stop working."""
    await accounts.reset_password(
        body.token, body.password, user_manager=user_manager, limiter=limiter, request=request
    )


@auth.post(
    "/request-verify-token",
    status_code=status.HTTP_202_ACCEPTED,
    name="request_verify_token",
    responses=errors(429, 503),
)
async def request_verify_token(
    request: Request,
    body: EmailRequest,
    user_manager: UserManagerDep,
    limiter: AccountRateLimiterDep,
) -> None:
    """Mail a verification token, if the email has an unverified active account."""
    await accounts.request_verify(
        body.email, user_manager=user_manager, limiter=limiter, request=request
    )


@auth.post("/verify", response_model=UserRead, name="verify", responses=errors(400, 503))
async def verify(request: Request, body: VerifyRequest, user_manager: UserManagerDep) -> UserRead:
    """Confirm an email address with a mailed verification token."""
    return UserRead.model_validate(
        await accounts.verify(body.token, user_manager=user_manager, request=request)
    )
