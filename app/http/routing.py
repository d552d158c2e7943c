"""Which route template answered a request (for the audit trail and the metrics), which
methods a path allows, the route class of the API with the one rule for unknown query
parameters, and one that answers an over-long form like any other invalid input."""

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route, get_route_path
from starlette.types import Scope

from app.http.query import QueryModel, QueryModelRoute
from app.platform.redact import MASK, is_secret_name

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Starlette's message when a form has more fields than the route's `form_limits` allow.
_TOO_MANY_FIELDS = "Too many fields"
# pydantic's words for an unknown key, so a query parameter and a body field read alike.
_EXTRA_FORBIDDEN_MSG = "Extra inputs are not permitted"


def route_template(scope: Scope) -> str | None:
    """The matched route's full path template; None when nothing matched (a 404).

    FastAPI (0.165+) leaves in scope["route"] the route as its own router declared it,
    without the prefixes of the routers that include it; the full template is on the route
    context it records under scope["fastapi"]. A plain starlette route has it in `path`.
    """
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(context, "path_format", None) or getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None


def allowed_methods(routes: list[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route answers at this path. Starlette's 405 names only the first
    route that matched the path; a path served by several routes allows all their methods."""
    allowed = []
    for method in _METHODS:
        probe = {**scope, "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return allowed


def _query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameter names a dependant and its sub-dependencies declare, with the
    fields of a query model (`Annotated[Filters, Query()]`) by their aliases."""
    names: set[str] = set()
    stack, seen = [dependant], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current.call, QueryModel):
            names.update(current.call.names)
        for field in current.query_params:
            annotation = field.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                names.update(info.alias or name for name, info in annotation.model_fields.items())
            else:
                names.add(field.alias)
        stack.extend(current.dependencies)
    return frozenset(names)


def declared_query(route: APIRoute) -> frozenset[str]:
    """The query parameters a route declares, worked out once per route."""
    names: frozenset[str] | None = route.__dict__.get("_declared_query")
    if names is None:
        names = route.__dict__["_declared_query"] = _query_names(route.dependant)
    return names


def refuse_unknown_query(request: Request, declared: frozenset[str]) -> None:
    """The one rule for unknown input: a query parameter the route does not declare is a
    422 `extra_forbidden` at `["query", name]`, as an unknown body field is (every body
    model is a `RequestBody`). A typo (`?sort=`, `?limit=`) that was silently ignored now
    says so."""
    params = request.query_params
    unknown = [name for name in dict.fromkeys(params.keys()) if name not in declared]
    if unknown:
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": _EXTRA_FORBIDDEN_MSG,
                    # A secret-named one (`?code=`, `?token=`) is not echoed back: the
                    # audit trail's rule, so the answer carries no credential either.
                    "input": MASK if is_secret_name(name) else params.get(name),
                }
                for name in unknown
            ]
        )


class ApiRoute(QueryModelRoute):
    """The route class of every API router: it refuses unknown query parameters before
    anything else runs (refuse_unknown_query). As an app-wide dependency the rule cost every
    request a node of FastAPI's dependency solving, query string or not, a fifth of the
    liveness check's time in the app. Routes outside the schema (the docs pages) keep their
    own query handling."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not self.include_in_schema:
            return handler

        async def handle(request: Request) -> Response:
            if request.scope.get("query_string"):
                refuse_unknown_query(request, declared_query(self))
            return await handler(request)

        return handle


class _PlainRoute(Route):
    """A Starlette route that records itself as the matched route, as FastAPI's routes do:
    the audit trail, the metrics and the access log read its template (route_template)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # Every request is tried against it first: a string comparison instead of the
        # path pattern (its path has no parameters).
        if scope["type"] != "http" or get_route_path(scope) != self.path:
            return Match.NONE, {}
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


def plain_route(path: str, answer: Callable[[Request], Awaitable[Response]]) -> Route:
    """A GET route that Starlette serves alone, put in front of the documented FastAPI
    route of the same path (which stays for the schema and answers through the same
    `answer`): no dependency solving, no response model, for an answer that needs neither
    and is asked for all the time (the liveness check, the public user count). It keeps
    what every API route does: no HEAD (FastAPI's routes answer it 405), any query
    parameter is a 422 `extra_forbidden`, and its template is the request's route."""

    async def endpoint(request: Request) -> Response:
        if request.scope.get("query_string"):
            refuse_unknown_query(request, frozenset())
        return await answer(request)

    if "{" in path:
        raise ValueError(f"a plain route has no path parameters: {path}")
    route = _PlainRoute(path, endpoint, methods=["GET"], include_in_schema=False)
    route.methods = {"GET"}  # Starlette adds HEAD to a GET route
    return route


class GatedRouter(APIRouter):
    """An APIRouter whose every route lies under `gate` (its full path prefix, set by
    `include_gated`): a request outside it is no match at once. FastAPI matches an included
    router by trying each of its routes in turn, and again to handle the request, so each
    router a request passed over cost it a few microseconds per route."""

    gate = ""

    def __init__(self, *args: Any, route_class: type[APIRoute] = ApiRoute, **kwargs: Any) -> None:
        super().__init__(*args, route_class=route_class, **kwargs)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self.gate and not get_route_path(scope).startswith(self.gate):
            return Match.NONE, {}
        return super().matches(scope)


def include_gated(app: FastAPI, router: APIRouter, *, prefix: str = "") -> None:
    """`app.include_router(router, prefix=prefix)`, with the router's gate set to the full
    prefix its routes share when it has one."""
    if isinstance(router, GatedRouter):
        router.gate = prefix + router.prefix
    app.include_router(router, prefix=prefix)


class FormLimitRoute(ApiRoute):
    """A route whose form past its `form_limits` field count answers 422, as FastAPI answers
    every other invalid input (Starlette's form parser raises 400)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                if exc.status_code != 400 or not str(exc.detail).startswith(_TOO_MANY_FIELDS):
                    raise
                raise RequestValidationError(
                    [
                        {
                            "type": "too_many_fields",
                            "loc": ("body",),
                            "msg": str(exc.detail),
                            "input": None,
                        }
                    ]
                ) from exc

        return handle
