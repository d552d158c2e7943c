"""Routes with a direct answer for the usual request, FastAPI's handler for every other.

FastAPI's request handler does, per request, work that a busy write route can do once or
not at all: it parses the content type through `email.message`, decodes the JSON body into
Python objects, solves the dependency tree node by node, validates the body, then
validates the endpoint's result against the response model and serializes it; and its
router tries the included routers' routes one by one to find the route. For the record
create, answering the usual request without both took 29 % of the app's instructions
per request off (docs/performance.md).

`DirectRoute` keeps the route as declared (the same endpoint, dependencies, body and
response models, so the same OpenAPI document) and puts a direct handler in front of
FastAPI's: `direct(request)` answers the request itself or returns None before it has
done anything a second try would repeat (counted, read or written anything), and FastAPI's
handler then answers as it always did. The direct handler takes only what it can answer
exactly as FastAPI would: a JSON body that its model accepts (`json_body`), so every
refusal (invalid JSON, a wrong content type, a field out of bounds: the 422 shapes) comes
from FastAPI itself. While the app has dependency overrides (tests), FastAPI's handler
answers everything.

`front_route` puts the same direct handler in front of FastAPI's routing, as the liveness
check is (app/http/routing.py `plain_route`); what it declines is routed again, past it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route, get_route_path
from starlette.types import Receive, Scope, Send

from app.http.guards import replay
from app.http.routing import ApiRoute, declared_query, refuse_unknown_query

M = TypeVar("M", bound=BaseModel)
Direct = Callable[[Request], Awaitable[Response | None]]

_JSON = "application/json"


def direct(handler: Direct) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Marks an endpoint as answered by `handler` first (see the module docstring); the
    endpoint stays what FastAPI documents and falls back on."""

    def mark(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        endpoint.direct_handler = handler  # type: ignore[attr-defined]
        return endpoint

    return mark


async def json_body(request: Request, model: type[M]) -> M | None:
    """The body as `model`, validated once from its bytes; None for anything FastAPI must
    answer: another content type (FastAPI reads `application/json; charset=…` and `+json`
    types too, through its own parser), no body, or a body the model refuses (FastAPI's
    422 then says why, in its own words and order)."""
    if request.headers.get("content-type") != _JSON:
        return None
    body = await request.body()  # kept on the request: FastAPI's handler reads it again
    if not body:
        return None
    try:
        return model.model_validate_json(body)
    except ValidationError:
        return None


class DirectRoute(ApiRoute):
    """An API route whose endpoint may carry a direct handler (`@direct(...)`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        answer: Direct | None = getattr(self.endpoint, "direct_handler", None)
        if answer is None:
            return handler

        async def handle(request: Request) -> Response:
            # The API's rule for unknown query parameters comes first, as on every route.
            if request.scope.get("query_string"):
                refuse_unknown_query(request, declared_query(self))
            if not getattr(request.app, "dependency_overrides", None):
                response = await answer(request)
                if response is not None:
                    return response
            return await handler(request)

        return handle


# Set on a request the front route declined, so that the router passes it over the second time.
_DECLINED = "studylog.direct_declined"


class FrontRoute(Route):
    """What `front_route` makes: matched by one method and path, as a string comparison."""

    def __init__(self, path: str, method: str, answer: Direct) -> None:
        super().__init__(path, self._serve, methods=[method], include_in_schema=False)
        self.app = self._serve  # an ASGI app itself, not a request-to-response function
        self.method = method
        self.answer = answer

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope["type"] != "http"
            or scope["method"] != self.method
            or _DECLINED in scope
            or get_route_path(scope) != self.path
        ):
            return Match.NONE, {}  # never PARTIAL: other methods are the API route's to answer
        return Match.FULL, {"route": self, "endpoint": self.endpoint, "path_params": {}}

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        if not scope.get("query_string") and not getattr(request.app, "dependency_overrides", None):
            response = await self.answer(request)
            if response is not None:
                await response(scope, receive, send)
                return
        # Declined: the router matches the request again, passing over this route, and the
        # API route answers it (with the body this route may have read, replayed).
        body = await request.body()
        scope[_DECLINED] = True
        await scope["router"].app(scope, replay(body, receive), send)


def front_route(path: str, method: str, answer: Direct) -> Route:
    """A route to put in front of the app's routes (like the liveness check's): `answer`
    serves the usual request without FastAPI's routing, and everything it declines (None),
    and every request with a query string, is routed again past it to the API route of the
    same path and method, which stays the documented one (DirectRoute, whose own direct
    handler declines it the same way). The route's template, for the audit trail and the
    metrics, is `path`, as the API route's."""
    if "{" in path:
        raise ValueError(f"a front route has no path parameters: {path}")
    return FrontRoute(path, method, answer)
