"""How routes describe themselves in the OpenAPI schema, so generated clients can trust it.

Two pieces every router uses:

- `operation_id(route)`: the app's `generate_unique_id_function`. An operation id is
  `{tag}-{name}` (`study_records-list`), from the route's first tag and its `name=`; a
  generated client then calls `study_records_list`, not
  `list_study_records_api_v1_study_records_get`. Ids are part of the contract: renaming
  one breaks generated clients.
- Tags name a part of the API for readers, in one style (`Study records`, `Users`,
  `Auth`, `Audit log`, `Health`), and each route declares a `summary=` in sentence case
  starting with a verb ("List study records"); tests/core/test_openapi.py holds both to it.
- `errors(...)`: the `responses=` entries for the error answers a route really gives, each
  with the `{"detail": …}` body every error has. `errors(401, 404)`; a description of
  one's own with `errors(404, descriptions={404: "No such user."})`.

FastAPI itself adds the 422 of a route that validates input (`HTTPValidationError`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

# Default wording of each declared error; a route may word its own.
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Refused by a rule of the service; `detail` is an error code.",
    401: "No valid access token (missing, expired, revoked or of an inactive user).",
    403: "Not allowed for this user (superuser only).",
    404: "No such object, or not one the caller may see.",
    405: "Method not allowed; `Allow` lists the methods of the path.",
    409: "The object is not in a state that allows this yet.",
    410: "The object existed but has expired.",
    413: "Request body too large.",
    422: "Malformed input; `detail` lists what is wrong.",
    429: "Too many requests; `Retry-After` says when to try again.",
    503: "A backing service (database, Redis) does not answer; retry after `Retry-After`.",
}

# Answers that can come from any route touching the database or Redis.
BACKING_SERVICE_ERRORS = (503,)


class ErrorDetail(BaseModel):
    """The body of every error answer."""

    detail: str | dict[str, Any] | list[Any] = Field(
        description="An error code or message; for some codes an object with `code` and "
        "`reason`; for 422 a list of problems."
    )


ERROR_MODEL_NAME = ErrorDetail.__name__


def errors(
    *status_codes: int, descriptions: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for these error statuses, each with the `{"detail": …}` body."""
    descriptions = descriptions or {}
    responses: dict[int | str, dict[str, Any]] = {}
    for code in status_codes:
        if code not in ERROR_DESCRIPTIONS and code not in descriptions:
            raise ValueError(f"no description for error status {code}")
        responses[code] = {
            "model": ErrorDetail,
            "description": descriptions.get(code, ERROR_DESCRIPTIONS.get(code, "")),
        }
    return responses


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


# The operation id prefix of a tag whose snake case is not the prefix its ids were
# published with (the tag was renamed for readers; the ids never change).
_ID_PREFIXES = {"Audit log": "audit_logs"}


def operation_id(route: APIRoute) -> str:
    """`{first tag}-{route name}`, both as snake case: `study_records-list`."""
    name = _slug(route.name)
    if not route.tags:
        return name
    tag = str(route.tags[0])
    return f"{_ID_PREFIXES.get(tag, _slug(tag))}-{name}"
