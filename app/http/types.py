"""Field types and the request body base shared by the domains' schemas.

`RequestBody` is the base of every JSON body a route reads: a key the model does not
declare is refused (422 `extra_forbidden` at `["body", key]`), never silently dropped, the
rule unknown query parameters follow too (app/http/routing.py).

pydantic reads a date or time from a number too (seconds since 1970), so `studied_on: 0`
or `?until=0.5` were accepted as 1970. The API's contract is ISO 8601 text; these types
refuse anything else before pydantic converts it (422).
"""

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


def _iso_text(value: Any) -> Any:
    if isinstance(value, (int, float)) or (isinstance(value, str) and _is_number(value)):
        raise ValueError("must be an ISO 8601 date or time, not a number")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


IsoDate = Annotated[date, BeforeValidator(_iso_text)]
IsoDatetime = Annotated[datetime, BeforeValidator(_iso_text)]


class RequestBody(BaseModel):
    """A JSON request body: unknown keys are a 422, not ignored."""

    model_config = ConfigDict(extra="forbid")
