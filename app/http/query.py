"""Query strings read in one step, for the busiest routes.

FastAPI solves a declared query parameter per request and per parameter, working out again
each time what it could know once (is the type a sequence, which alias, which model): for
the record list's seven parameters that was about a sixth of the app's CPU per request.
`query_model(declare)` keeps `declare` (an async function whose parameters are the query
parameters, `Annotated[..., Query(...)]`) as the one declaration, and gives instead:

- a dependency taking only the request: it validates the query string against a pydantic
  model built once from `declare`'s signature (the same types, bounds, aliases and
  defaults, so the same errors at `["query", name]`), then calls `declare` with the values;
- the OpenAPI parameters FastAPI itself makes of `declare`, which `QueryModelRoute` puts on
  every route that depends on it, so the published schema is what it was;
- the names it reads, for the unknown-parameter rule (app/http/routing.py).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from types import UnionType
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from starlette.requests import Request

T = TypeVar("T")


def _repeatable(annotation: Any) -> bool:
    """Whether a parameter takes a list of values (`list[str] | None`, annotated or not)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _repeatable(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return any(_repeatable(arg) for arg in get_args(annotation))
    return isinstance(origin, type) and issubclass(origin, (list, set, frozenset, tuple, Sequence))


class QueryModel(Generic[T]):
    """One query declaration read as a whole (see the module docstring)."""

    def __init__(self, declare: Callable[..., Awaitable[T]]) -> None:
        self.declare = declare
        fields: dict[str, Any] = {}
        for name, parameter in inspect.signature(declare, eval_str=True).parameters.items():
            if _repeatable(parameter.annotation):
                # The query string is read one value per name; FastAPI reads all of them.
                raise TypeError(f"{declare.__name__}: {name} takes several values")
            default = ... if parameter.default is inspect.Parameter.empty else parameter.default
            fields[name] = (parameter.annotation, default)
        # Unknown names are the unknown-parameter rule's to refuse, with its own answer.
        self.model: type[BaseModel] = create_model(
            f"{declare.__name__}_query", __config__=ConfigDict(extra="ignore"), **fields
        )
        self.names = frozenset(info.alias or name for name, info in self.model.model_fields.items())
        self._openapi: dict[str, Any] | None = None

    async def __call__(self, request: Request) -> T:
        try:
            values = self.model.model_validate(dict(request.query_params))
        except ValidationError as exc:
            raise RequestValidationError(
                [
                    {**error, "loc": ("query", *error["loc"])}
                    for error in exc.errors(include_url=False)
                ]
            ) from None
        return await self.declare(
            **{name: getattr(values, name) for name in self.model.model_fields}
        )

    def openapi(self) -> dict[str, Any]:
        """What FastAPI documents of the declaration on an operation (worked out once): its
        parameters and the 422 answer that comes with having any."""
        if self._openapi is None:
            probe = FastAPI(openapi_url="/openapi.json")

            async def declared(_: Any = Depends(self.declare)) -> None:
                """The declaration as FastAPI would read it."""

            probe.get("/")(declared)
            operation = probe.openapi()["paths"]["/"]["get"]
            self._openapi = {
                "parameters": operation.get("parameters", []),
                "responses": {
                    code: answer for code, answer in operation["responses"].items() if code == "422"
                },
            }
        return self._openapi


def query_model(declare: Callable[..., Awaitable[T]]) -> QueryModel[T]:
    """`declare`'s query parameters read in one step; use the result in `Depends(...)`."""
    return QueryModel(declare)


def query_models(dependant: Dependant) -> list[QueryModel[Any]]:
    """The query models a dependant and its sub-dependencies use, each once, in order."""
    found: list[QueryModel[Any]] = []
    stack, seen = [dependant], set()
    while stack:
        current = stack.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current.call, QueryModel) and current.call not in found:
            found.append(current.call)
        stack.extend(current.dependencies)
    return found


class QueryModelRoute(APIRoute):
    """A route that documents the query parameters of the query models it depends on, as
    FastAPI would have documented them declared one by one. Worked out when the schema is
    first asked for, not when the route is made: a process that never serves the schema
    (a worker in production, the admin CLI) never builds a query model's probe app."""

    _declared_extra: dict[str, Any] | None = None
    _documented_extra: dict[str, Any] | None = None

    @property  # type: ignore[override]  # an attribute of APIRoute
    def openapi_extra(self) -> dict[str, Any] | None:
        if self._documented_extra is None:
            extra = dict(self._declared_extra or {})
            for model in query_models(self.dependant):
                documented = model.openapi()
                extra["parameters"] = [*extra.get("parameters", []), *documented["parameters"]]
                if not {422, "422"} & set(self.responses):  # one the route declares is kept
                    extra["responses"] = {**documented["responses"], **extra.get("responses", {})}
            self._documented_extra = extra
        return self._documented_extra or self._declared_extra

    @openapi_extra.setter
    def openapi_extra(self, value: dict[str, Any] | None) -> None:
        self._declared_extra = value
        self._documented_extra = None
