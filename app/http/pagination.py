"""The `page` and `size` query parameters of every paginated list.

An async dependency, not fastapi-pagination's `Params` class itself: FastAPI runs a class
or plain function dependency in its thread pool, a hand-off that cost more than the rest of
a cached request. The bounds are the library's (size 1 to 100), plus a ceiling on `page`
so an absurd number is a 422 instead of an OFFSET no database accepts.
"""

from typing import Annotated

from fastapi import Depends, Query
from fastapi_pagination import Params

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000


PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size")]


async def page_params(page: PageNumber = 1, size: PageSize = DEFAULT_PAGE_SIZE) -> Params:
    return Params(page=page, size=size)


PageParams = Annotated[Params, Depends(page_params)]
