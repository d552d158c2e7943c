"""Account routes under /api/v1, with fastapi-users' manager, paths and error codes.

Built here rather than taken from fastapi-users' router factories: login also returns a
refresh token, logout really revokes, the limited routes count attempts by IP and email,
and /users/me, /users/count and /users/{id} need to be ordered and checked as API.md says.
"""

import uuid
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordRequestForm
from fastapi_pagination import Page
from fastapi_pagination.ext.tortoise import apaginate
from fastapi_users import exceptions
from fastapi_users.router.common import ErrorCode

from app.auth import sessions
from app.auth.dependencies import (
    CurrentAuthentication,
    CurrentSuperuser,
    CurrentUser,
    authenticate,
    bearer_scheme,
)
from app.auth.models import User
from app.http.openapi import errors
from app.http.pagination import PageParams
from app.http.routing import FormLimitRoute, GatedRouter
from app.http.state import JobsDep, SettingsDep, StoreDep
from app.platform.phone import InvalidPhoneNumber, normalize_phone
from app.users import phone as phone_service
from app.users import service as users_service
from app.users.dependencies import (
    LOGIN_FORM_MAX_FIELDS,
    AccountRateLimiterDep,
    UserByIdDep,
    require_sms,
    single_valued_login_form,
)
from app.users.manager import UserManagerDep
from app.users.schemas import (
    DeregisterRequest,
    EmailRequest,
    PhoneBindRequest,
    RefreshRequest,
    ResetPasswordRequest,
    SmsCodeRequest,
    SmsCodeSent,
    SmsLoginRequest,
    TokenPair,
    UserCount,
    UserCreate,
    UserRead,
    UserUpdate,
    UserUpdateMe,
    VerifyRequest,
)

INVALID_PASSWORD = "INVALID_PASSWORD"  # noqa: S105  (an error code, not a password)
LOGIN_BAD_CODE = "LOGIN_BAD_CODE"
PHONE_BAD_CODE = "PHONE_BAD_CODE"
PHONE_ALREADY_USED = "PHONE_ALREADY_USED"
SMS_DISABLED_503 = {503: "SMS_BACKEND is none (`SMS_DISABLED`), or a backing service is down."}


# The app mounts both under /api/v1, each on its own: a router in between would cost FastAPI
# one more scan of their routes per request.
# The login form's field limit answers 422 (FormLimitRoute).
auth = GatedRouter(prefix="/auth", tags=["auth"], route_class=FormLimitRoute)
users = GatedRouter(prefix="/users", tags=["users"])

NO_SUCH_USER = {404: "No such user."}


def _bad_request(detail: object) -> HTTPException:
    return HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail=detail)


def _invalid_password(code: ErrorCode, exc: exceptions.InvalidPasswordException) -> HTTPException:
    return _bad_request({"code": code, "reason": exc.reason})


def _phone(value: str, settings: SettingsDep) -> str:
    """The number in E.164; a 422 at `["body", "phone"]` like any malformed field."""
    try:
        return normalize_phone(value, default_region=settings.SMS_DEFAULT_REGION)
    except InvalidPhoneNumber as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "phone"), "msg": str(exc), "input": value}]
        ) from exc


# --- auth ---------------------------------------------------------------------------------


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
    await limiter.hit("register", email=user_in.email)
    try:
        user = await user_manager.create(user_in, safe=True, request=request)
    except exceptions.UserAlreadyExists as exc:
        raise _bad_request(ErrorCode.REGISTER_USER_ALREADY_EXISTS) from exc
    except exceptions.InvalidPasswordException as exc:
        raise _invalid_password(ErrorCode.REGISTER_INVALID_PASSWORD, exc) from exc
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
    attempt = await limiter.before_login(email=credentials.username)
    user = await user_manager.authenticate(credentials)
    if user is None or not user.is_active:
        await limiter.login_failed(attempt)
        raise _bad_request(ErrorCode.LOGIN_BAD_CREDENTIALS)
    await limiter.login_succeeded(attempt)
    tokens = await sessions.start_session(user=user, settings=settings)
    await user_manager.on_after_login(user, request)
    return TokenPair(access_token=tokens.access_token, refresh_token=tokens.refresh_token)


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
    try:
        tokens = await sessions.refresh_session(
            refresh_token=body.refresh_token, settings=settings, store=store
        )
    except sessions.RefreshRejected as exc:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED, detail="Unauthorized"
        ) from exc
    return TokenPair(access_token=tokens.access_token, refresh_token=tokens.refresh_token)


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


@auth.post(
    "/sms/code",
    response_model=SmsCodeSent,
    status_code=status.HTTP_202_ACCEPTED,
    name="sms_code",
    dependencies=[Depends(require_sms)],
    responses=errors(400, 401, 429, 503, descriptions=SMS_DISABLED_503),
    # The bearer token is optional: needed for `bind` only (`{}` is "no security").
    openapi_extra={"security": [{}]},
)
async def sms_code(
    request: Request,
    body: SmsCodeRequest,
    *,
    token: Annotated[str | None, Depends(bearer_scheme)],
    settings: SettingsDep,
    store: StoreDep,
    jobs: JobsDep,
    limiter: AccountRateLimiterDep,
) -> SmsCodeSent:
    """Text a code to a phone: to log in (sent only if an account has it) or, with a bearer
    token, to bind it to the caller's account."""
    user = None
    if body.purpose == "bind":
        user = (await authenticate(request, token)).user
    await limiter.hit_sms_code()
    phone = _phone(body.phone, settings)
    # Counted per phone before anything that depends on who has it, so probing whether a
    # number is taken is bounded per number like asking for codes.
    await phone_service.count_code_request(phone=phone, store=store, settings=settings)
    if user is not None and await phone_service.taken_by_another(phone=phone, user=user):
        raise _bad_request(PHONE_ALREADY_USED)
    if user is None:
        if await User.exists(phone=phone, is_active=True):
            await phone_service.send_new_code(
                purpose="login", phone=phone, store=store, settings=settings, jobs=jobs
            )
        else:
            await phone_service.store_decoy_code(phone=phone, store=store, settings=settings)
    else:
        await phone_service.send_new_code(
            purpose="bind",
            phone=phone,
            user_id=str(user.id),
            store=store,
            settings=settings,
            jobs=jobs,
        )
    return SmsCodeSent(resend_after_seconds=settings.SMS_RESEND_SECONDS)


@auth.post(
    "/sms/login",
    response_model=TokenPair,
    name="sms_login",
    dependencies=[Depends(require_sms)],
    responses=errors(400, 429, 503, descriptions=SMS_DISABLED_503),
)
async def sms_login(
    request: Request,
    body: SmsLoginRequest,
    settings: SettingsDep,
    store: StoreDep,
    user_manager: UserManagerDep,
    limiter: AccountRateLimiterDep,
) -> TokenPair:
    """Log in with a phone number and the code texted to it: an access and a refresh token."""
    await limiter.hit_sms_check()
    phone = _phone(body.phone, settings)
    user = await User.get_or_none(phone=phone)
    spent = await phone_service.spend_code(
        purpose="login", phone=phone, code=body.code, store=store, settings=settings
    )
    if not spent or user is None or not user.is_active:
        raise _bad_request(LOGIN_BAD_CODE)
    tokens = await sessions.start_session(user=user, settings=settings)
    await user_manager.on_after_login(user, request)
    return TokenPair(access_token=tokens.access_token, refresh_token=tokens.refresh_token)


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
    await limiter.hit("forgot_password", email=body.email)
    try:
        user = await user_manager.get_by_email(body.email)
        await user_manager.forgot_password(user, request)
    except (exceptions.UserNotExists, exceptions.UserInactive):
        await user_manager.spend_hash_time()


@auth.post("/reset-password", name="reset_password", responses=errors(400, 429, 503))
async def reset_password(
    request: Request,
    body: ResetPasswordRequest,
    user_manager: UserManagerDep,
    limiter: AccountRateLimiterDep,
) -> None:
    """Set a new password with a mailed reset token; the user's other tokens stop working."""
    try:
        await limiter.check_password(user_id=user_manager.reset_token_user_id(body.token))
        await user_manager.reset_password(body.token, body.password, request)
    except (
        exceptions.InvalidResetPasswordToken,
        exceptions.UserNotExists,
        exceptions.UserInactive,
    ) as exc:
        raise _bad_request(ErrorCode.RESET_PASSWORD_BAD_TOKEN) from exc
    except exceptions.InvalidPasswordException as exc:
        raise _invalid_password(ErrorCode.RESET_PASSWORD_INVALID_PASSWORD, exc) from exc


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
    await limiter.hit("verify", email=body.email)
    try:
        user = await user_manager.get_by_email(body.email)
        await user_manager.request_verify(user, request)
    except (
        exceptions.UserNotExists,
        exceptions.UserInactive,
        exceptions.UserAlreadyVerified,
    ):
        pass


@auth.post("/verify", response_model=UserRead, name="verify", responses=errors(400, 503))
async def verify(request: Request, body: VerifyRequest, user_manager: UserManagerDep) -> UserRead:
    """Confirm an email address with a mailed verification token."""
    try:
        user = await user_manager.verify(body.token, request)
    except (exceptions.InvalidVerifyToken, exceptions.UserNotExists) as exc:
        raise _bad_request(ErrorCode.VERIFY_USER_BAD_TOKEN) from exc
    except exceptions.UserAlreadyVerified as exc:
        raise _bad_request(ErrorCode.VERIFY_USER_ALREADY_VERIFIED) from exc
    return UserRead.model_validate(user)


# --- users (the fixed paths before /{user_id}) -----------------------------------------------


@users.get("/me", response_model=UserRead, name="me", responses=errors(401, 503))
async def read_me(user: CurrentUser) -> UserRead:
    """The current user."""
    return UserRead.model_validate(user)


@users.patch(
    "/me",
    response_model=UserRead,
    name="patch_me",
    responses=errors(400, 401, 429, 503),
)
async def update_me(
    request: Request,
    user_in: UserUpdateMe,
    user: CurrentUser,
    user_manager: UserManagerDep,
    limiter: AccountRateLimiterDep,
) -> UserRead:
    """Change the current user's email, password (both need `current_password`) or name."""
    new_email = user_in.email is not None and user_in.email != user.email
    if new_email or user_in.password is not None:
        await _require_password(user_manager, limiter, user, user_in.current_password)
    if new_email:
        # Whether another account has an email is counted like registering it.
        await limiter.hit("register", email=str(user_in.email))
    return UserRead.model_validate(
        await _update(user_manager, user_in, user, safe=True, request=request)
    )


@users.delete(
    "/me",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    name="delete_me",
    responses=errors(400, 401, 429, 503),
)
async def delete_me(
    request: Request,
    body: DeregisterRequest,
    user: CurrentUser,
    user_manager: UserManagerDep,
    limiter: AccountRateLimiterDep,
) -> None:
    """Deregister: delete the account and its study records, with the current password."""
    await _require_password(user_manager, limiter, user, body.password)
    await user_manager.delete(user, request=request)
    # The account is gone: the audit row of this very request must not name it either.
    request.state.user_id = None


async def _require_password(
    user_manager: UserManagerDep,
    limiter: AccountRateLimiterDep,
    user: User,
    password: str | None,
) -> None:
    """400 INVALID_PASSWORD unless `password` is the user's; every check is counted."""
    await limiter.check_password(user_id=user.id)
    if not password or not await user_manager.check_password(user, password):
        raise _bad_request(INVALID_PASSWORD)


@users.post(
    "/me/phone",
    response_model=UserRead,
    name="bind_phone",
    dependencies=[Depends(require_sms)],
    responses=errors(400, 401, 429, 503, descriptions=SMS_DISABLED_503),
)
async def bind_phone(
    body: PhoneBindRequest,
    user: CurrentUser,
    settings: SettingsDep,
    store: StoreDep,
    limiter: AccountRateLimiterDep,
) -> UserRead:
    """Bind a phone number to the current user with the code texted to it."""
    await limiter.hit_sms_check()
    phone = _phone(body.phone, settings)
    # The code first: only the holder of a code texted to the phone (each one counted per
    # phone) learns that another account has the number.
    spent = await phone_service.spend_code(
        purpose="bind",
        phone=phone,
        code=body.code,
        user_id=str(user.id),
        store=store,
        settings=settings,
    )
    if not spent:
        raise _bad_request(PHONE_BAD_CODE)
    try:
        user = await phone_service.set_phone(user=user, phone=phone, store=store, settings=settings)
    except phone_service.PhoneTaken as exc:
        raise _bad_request(PHONE_ALREADY_USED) from exc
    return UserRead.model_validate(user)


@users.delete("/me/phone", response_model=UserRead, name="unbind_phone", responses=errors(401, 503))
async def unbind_phone(user: CurrentUser, settings: SettingsDep, store: StoreDep) -> UserRead:
    """Remove the current user's phone number (SMS login stops working for it)."""
    user = await phone_service.set_phone(user=user, phone=None, store=store, settings=settings)
    return UserRead.model_validate(user)


@users.get("/count", response_model=UserCount, name="count", responses=errors(503))
async def count(request: Request) -> UserCount:
    """How many accounts there are (may be a few seconds old)."""
    # A public, hot route: the store and the settings straight off the app state cost less
    # than two dependencies to solve.
    state = request.app.state
    total = await users_service.count_users(
        store=state.store, cache_seconds=state.settings.USER_COUNT_CACHE_SECONDS
    )
    return UserCount(count=total)


@users.get("", response_model=Page[UserRead], name="list", responses=errors(401, 403, 503))
async def list_users(_superuser: CurrentSuperuser, params: PageParams) -> Page[UserRead]:
    """All accounts, oldest first (superuser)."""
    return await apaginate(
        User.all().order_by("created_at", "id"),
        params,
        transformer=lambda items: [UserRead.model_validate(u) for u in items],
    )


@users.get(
    "/{user_id}",
    response_model=UserRead,
    name="get",
    responses=errors(401, 403, 404, 503, descriptions=NO_SUCH_USER),
)
async def read_user(_superuser: CurrentSuperuser, user: UserByIdDep) -> UserRead:
    """One account (superuser)."""
    return UserRead.model_validate(user)


@users.patch(
    "/{user_id}",
    response_model=UserRead,
    name="patch",
    responses=errors(400, 401, 403, 404, 503, descriptions=NO_SUCH_USER),
)
async def update_user(
    request: Request,
    user_in: UserUpdate,
    _superuser: CurrentSuperuser,
    user: UserByIdDep,
    user_manager: UserManagerDep,
) -> UserRead:
    """Change any field of an account, flags included (superuser)."""
    return UserRead.model_validate(
        await _update(user_manager, user_in, user, safe=False, request=request)
    )


@users.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    name="delete",
    responses=errors(401, 403, 404, 503, descriptions=NO_SUCH_USER),
)
async def delete_user(
    request: Request, _superuser: CurrentSuperuser, user: UserByIdDep, user_manager: UserManagerDep
) -> None:
    """Delete an account with its study records (superuser)."""
    await user_manager.delete(user, request=request)


async def _update(
    user_manager: UserManagerDep, user_in: UserUpdate, user: User, *, safe: bool, request: Request
) -> User:
    try:
        return await user_manager.update(user_in, user, safe=safe, request=request)
    except exceptions.InvalidPasswordException as exc:
        raise _invalid_password(ErrorCode.UPDATE_USER_INVALID_PASSWORD, exc) from exc
    except exceptions.UserAlreadyExists as exc:
        raise _bad_request(ErrorCode.UPDATE_USER_EMAIL_ALREADY_EXISTS) from exc


# The public count first: routes are tried in order, and it is the busiest of them.
users.routes.sort(key=lambda route: getattr(route, "path", "") != "/users/count")
