"""SMS routes: asking for a code, logging in with one, binding and removing a phone. What
each does with the code is app/users/phone.py; the routes parse, count and answer."""

from typing import Annotated

from fastapi import Body, Depends, Request, status
from fastapi.routing import APIRouter

from app.auth.dependencies import CurrentUser, authenticate, bearer_scheme
from app.http.openapi import errors
from app.http.routing import ApiRoute, FormLimitRoute
from app.http.state import JobsDep, SettingsDep, StoreDep
from app.users import phone as phone_service
from app.users.accounts import AccountsDep
from app.users.dependencies import AccountRateLimiterDep, body_phone, require_sms, sms_phone
from app.users.schemas import (
    PhoneBindRequest,
    PhoneRemoveRequest,
    SmsCodeRequest,
    SmsCodeSent,
    SmsLoginRequest,
    TokenPair,
    UserRead,
)

SMS_DISABLED_503 = {503: "SMS_BACKEND is none (`SMS_DISABLED`), or a backing service is down."}
SMS_CODE_503 = {
    503: "SMS_BACKEND is none (`SMS_DISABLED`), SMS_MAX_PER_HOUR is reached "
    "(`SMS_BUDGET_EXHAUSTED`, with Retry-After), or a backing service is down."
}

# Not mounted themselves: the account routers take these routes in among their own
# (app/users/auth_router.py, app/users/router.py), so each path has the router, the place
# in the OpenAPI document and the route class the other account routes of its prefix have.
sms = APIRouter(prefix="/auth", tags=["Auth"], route_class=FormLimitRoute)
me_phone = APIRouter(prefix="/users", tags=["Users"], route_class=ApiRoute)


@sms.post(
    "/sms/code",
    response_model=SmsCodeSent,
    status_code=status.HTTP_202_ACCEPTED,
    name="sms_code",
    summary="Send an SMS code",
    dependencies=[Depends(require_sms)],
    responses=errors(400, 401, 422, 429, 503, descriptions=SMS_CODE_503),
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
    user = (await authenticate(request, token)).user if body.purpose == "bind" else None
    await limiter.hit_sms_code()
    await phone_service.request_code(
        phone=sms_phone(body.phone, settings),
        user=user,
        limiter=limiter,
        store=store,
        settings=settings,
        jobs=jobs,
    )
    return SmsCodeSent(resend_after_seconds=settings.SMS_RESEND_SECONDS)


@sms.post(
    "/sms/login",
    response_model=TokenPair,
    name="sms_login",
    summary="Log in with an SMS code",
    dependencies=[Depends(require_sms)],
    responses=errors(400, 429, 503, descriptions=SMS_DISABLED_503),
)
async def sms_login(
    body: SmsLoginRequest, settings: SettingsDep, store: StoreDep, account_service: AccountsDep
) -> TokenPair:
    """Log in with a phone number and the code texted to it: an access and a refresh token."""
    await account_service.limiter.hit_sms_check()
    user = await phone_service.log_in_user(
        phone=body_phone(body.phone, settings),
        code=body.code,
        limiter=account_service.limiter,
        store=store,
        settings=settings,
    )
    return await account_service.open_session(user)


@me_phone.post(
    "/me/phone",
    response_model=UserRead,
    name="bind_phone",
    summary="Bind a phone number",
    dependencies=[Depends(require_sms)],
    responses=errors(400, 401, 429, 503, descriptions=SMS_DISABLED_503),
)
async def bind_phone(
    body: PhoneBindRequest,
    user: CurrentUser,
    settings: SettingsDep,
    store: StoreDep,
    jobs: JobsDep,
    account_service: AccountsDep,
) -> UserRead:
    """Bind a phone number to the current user with the code texted to it and the password."""
    phone = body_phone(body.phone, settings)
    await account_service.require_password(user, body.current_password)
    await account_service.limiter.hit_sms_check()
    user = await phone_service.bind_with_code(
        user=user,
        phone=phone,
        code=body.code,
        limiter=account_service.limiter,
        store=store,
        settings=settings,
        jobs=jobs,
    )
    return UserRead.model_validate(user)


@me_phone.delete(
    "/me/phone",
    response_model=UserRead,
    name="unbind_phone",
    summary="Remove the phone number",
    responses=errors(400, 401, 429, 503),
)
async def unbind_phone(
    user: CurrentUser,
    settings: SettingsDep,
    store: StoreDep,
    jobs: JobsDep,
    account_service: AccountsDep,
    body: Annotated[PhoneRemoveRequest | None, Body()] = None,
) -> UserRead:
    """Remove the current user's phone number with the password (SMS login stops working)."""
    await account_service.require_password(user, body.current_password if body else None)
    user = await phone_service.remove_phone(user=user, store=store, settings=settings, jobs=jobs)
    return UserRead.model_validate(user)
