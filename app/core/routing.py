"""Which route template answered a request, for the audit trail and the metrics."""

from starlette.types import Scope


def route_template(scope: Scope) -> str | None:
    """The matched route's full path template; None when nothing matched (a 404).

    FastAPI (0.165+) leaves in scope["route"] the route as its own router declared it,
    without the prefixes of the routers that include it; the full template is on the route
    context it records under scope["fastapi"]. A plain starlette route has it in `path`.
    """
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(context, "path_format", None) or getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None
