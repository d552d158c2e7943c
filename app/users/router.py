"""Account routes under /api/v1/users: the current user's own account, the public count,
and the superuser's routes for any account. /users/me, /users/count and /users/{id} are
ordered and checked as API.md says; what each does is app/users/accounts.py."""

from fastapi import Request, Response, status
from fastapi_pagination import Page
from fastapi_pagination.ext.tortoise import apaginate

from app.auth.dependencies import CurrentSuperuser, CurrentUser
from app.auth.models import User
from app.http.openapi import errors
from app.http.pagination import PageParams
from app.http.routing import GatedRouter
from app.http.state import app_state
from app.users import service as users_service
from app.users.accounts import AccountsDep
from app.users.dependencies import UserByIdDep
from app.users.manager import UserManagerDep
from app.users.phone_router import me_phone
from app.users.schemas import DeregisterRequest, UserCount, UserRead, UserUpdate, UserUpdateMe

# The app mounts it under /api/v1 on its own: a router in between would cost FastAPI one
# more scan of its routes per request.
users = GatedRouter(prefix="/users", tags=["Users"])

NO_SUCH_USER = {404: "No such user."}


# --- the current user (the fixed paths before /{user_id}) -------------------------------------


@users.get(
    "/me",
    response_model=UserRead,
    name="me",
    summary="Get the current user",
    responses=errors(401, 503),
)
async def read_me(user: CurrentUser) -> UserRead:
    """The current user."""
    return UserRead.model_validate(user)


@users.patch(
    "/me",
    response_model=UserRead,
    name="patch_me",
    summary="Update the current user",
    responses=errors(400, 401, 429, 503),
)
async def update_me(
    user_in: UserUpdateMe, user: CurrentUser, account_service: AccountsDep
) -> UserRead:
    """Change the current user's email, password (both need `current_password`) or name."""
    return UserRead.model_validate(await account_service.update_own(user_in, user))


@users.delete(
    "/me",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    name="delete_me",
    summary="Delete the current user",
    responses=errors(400, 401, 429, 503),
)
async def delete_me(
    request: Request, body: DeregisterRequest, user: CurrentUser, account_service: AccountsDep
) -> None:
    """Deregister: delete the account and its study records, with the current password."""
    await account_service.deregister(user, body.password)
    # The account is gone: the audit row of this very request must not name it either.
    request.state.user_id = None


# The phone routes (app/users/phone_router.py) with the rest of /users/me.
users.routes.extend(me_phone.routes)


# --- any account ----------------------------------------------------------------------------


@users.get(
    "/count", response_model=UserCount, name="count", summary="Count users", responses=errors(503)
)
async def count(request: Request) -> Response:
    """How many accounts there are (may be a few seconds old)."""
    return await count_answer(request)


async def count_answer(request: Request) -> Response:
    """`{"count": N}` as FastAPI would encode UserCount. A public, hot route: the store and
    the settings straight off the app state, no dependency to solve, and the route that
    serves it is Starlette's alone (app/main.py's plain_route, put first)."""
    state = app_state(request)
    total = await users_service.count_users(
        store=state.store, cache_seconds=state.settings.USER_COUNT_CACHE_SECONDS
    )
    return Response(b'{"count":%d}' % total, media_type="application/json")


@users.get(
    "",
    response_model=Page[UserRead],
    name="list",
    summary="List users",
    responses=errors(401, 403, 503),
)
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
    summary="Get a user",
    responses=errors(401, 403, 404, 503, descriptions=NO_SUCH_USER),
)
async def read_user(_superuser: CurrentSuperuser, user: UserByIdDep) -> UserRead:
    """One account (superuser)."""
    return UserRead.model_validate(user)


@users.patch(
    "/{user_id}",
    response_model=UserRead,
    name="patch",
    summary="Update a user",
    responses=errors(400, 401, 403, 404, 503, descriptions=NO_SUCH_USER),
)
async def update_user(
    user_in: UserUpdate,
    _superuser: CurrentSuperuser,
    user: UserByIdDep,
    account_service: AccountsDep,
) -> UserRead:
    """Change any field of an account, flags included (superuser)."""
    return UserRead.model_validate(await account_service.update(user_in, user, safe=False))


@users.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    name="delete",
    summary="Delete a user",
    responses=errors(401, 403, 404, 503, descriptions=NO_SUCH_USER),
)
async def delete_user(
    request: Request, _superuser: CurrentSuperuser, user: UserByIdDep, user_manager: UserManagerDep
) -> None:
    """Delete an account with its study records (superuser)."""
    await user_manager.delete(user, request=request)


# The public count first: routes are tried in order, and it is the busiest of them.
users.routes.sort(key=lambda route: getattr(route, "path", "") != "/users/count")
