"""Which route template answered a request, for the audit trail and the metrics."""

from starlette.routing import BaseRoute, Match
from starlette.types import Scope

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


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
