"""Field types shared by the domains' schemas.

pydantic reads a date or time from a number too (seconds since 1970), so `studied_on: 0`
or `?until=0.5` were accepted as 1970. The API's contract is ISO 8601 text; these types
refuse anything else before pydantic converts it (422).
"""

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator


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
