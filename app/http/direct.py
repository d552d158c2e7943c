"""Routes with a direct answer for the usual request, FastAPI's handler for every other.

FastAPI's request handler does, per request, work that a busy write route can do once or
not at all: it parses the content type through `email.message`, decodes the JSON body into
Python objects, solves the dependency tree node by node, validates the body, then
validates the endpoint's result against the response model and serializes it. For the
record create that was over half of the app's instructions per request.

`DirectRoute` keeps the route as declared (the same endpoint, dependencies, body and
response models, so the same OpenAPI document) and puts a direct handler in front of
FastAPI's: `direct(request)` answers the request itself or returns None before it has
done anything a second try would repeat (counted, read or written anything), and FastAPI's
handler then answers as it always did. The direct handler takes only what it can answer
exactly as FastAPI would: a JSON body that its model accepts (`json_body`), so every
refusal (invalid JSON, a wrong content type, a field out of bounds: the 422 shapes) comes
from FastAPI itself. While the app has dependency overrides (tests), FastAPI's handler
answers everything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

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
