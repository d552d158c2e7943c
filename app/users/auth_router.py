"""Sign-up and login routes under /api/v1/auth, with fastapi-users' paths and error codes:
register, password and SMS login, refresh and logout, and the mailed reset and
verification tokens.

Built here rather than taken from fastapi-users' router factories: login also returns a
refresh token, logout really revokes, and the limited routes count attempts by IP and
email. What each does is app/users/accounts.py.
"""

import uuid
from typing import Annotated, Any

from fastapi import Form, Response, status

from app.auth import sessions
from app.auth.dependencies import CurrentAuthentication
from app.http.openapi import errors
from app.http.routing import FormLimitRoute, GatedRouter
from app.http.state import SettingsDep, StoreDep
from app.users import accounts
from app.users.accounts import AccountsDep, LoginAccountsDep
from app.users.dependencies import LOGIN_FORM_MAX_FIELDS
from app.users.phone_router import sms
from app.users.schemas import (
    EmailRequest,
    PasswordLoginForm,
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
auth = GatedRouter(prefix="/auth", tags=["Auth"], route_class=FormLimitRoute)

# The routes that mail a token answer 202 whether or not one was sent: the answer tells
# nothing about the email.
MAILS_A_TOKEN: dict[str, Any] = {
    "status_code": status.HTTP_202_ACCEPTED,
    "responses": errors(429, 503),
}


@auth.post(
    "/register",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    name="register",
    summary="Register an account",
    responses=errors(400, 429, 503),
)
async def register(user_in: UserCreate, account_service: AccountsDep) -> UserRead:
    """Create an account."""
    return UserRead.model_validate(await account_service.register(user_in))


@auth.post(
    "/jwt/login",
    response_model=TokenPair,
    name="login",
    summary="Log in with a password",
    responses=errors(400, 429, 503),
    form_limits={"max_fields": LOGIN_FORM_MAX_FIELDS},
)
async def login(
    credentials: Annotated[PasswordLoginForm, Form()], account_service: LoginAccountsDep
) -> TokenPair:
    """Log in with email (as `username`) and password: an access and a refresh token."""
    return await account_service.log_in(credentials)


@auth.post(
    "/jwt/refresh",
    response_model=TokenPair,
    name="refresh",
    summary="Refresh the tokens",
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
    summary="Log out",
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
    "/forgot-password", name="forgot_password", summary="Request a password reset", **MAILS_A_TOKEN
)
async def forgot_password(body: EmailRequest, account_service: AccountsDep) -> None:
    """Mail a password reset token, if the email has an active account (the answer is the same)."""
    await account_service.forgot_password(body.email)


@auth.post(
    "/reset-password",
    name="reset_password",
    summary="Reset a password",
    responses=errors(400, 429, 503),
)
async def reset_password(body: ResetPasswordRequest, account_service: AccountsDep) -> None:
    """Set a new password with a mailed reset token; the user's other tokens stop working."""
    await account_service.reset_password(body.token, body.password)


@auth.post(
    "/request-verify-token",
    name="request_verify_token",
    summary="Request an email verification",
    **MAILS_A_TOKEN,
)
async def request_verify_token(body: EmailRequest, account_service: AccountsDep) -> None:
    """Mail a verification token, if the email has an unverified active account."""
    await account_service.request_verify(body.email)


@auth.post(
    "/verify",
    response_model=UserRead,
    name="verify",
    summary="Verify an email address",
    responses=errors(400, 503),
)
async def verify(body: VerifyRequest, account_service: AccountsDep) -> UserRead:
    """Confirm an email address with a mailed verification token."""
    return UserRead.model_validate(await account_service.verify(body.token))
