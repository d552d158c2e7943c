"""The `page` and `size` query parameters of every paginated list.

An async dependency, not fastapi-pagination's `Params` class itself: FastAPI runs a class
or plain function dependency in its thread pool, a hand-off that cost more than the rest of
a cached request. The bounds are the library's (size 1 to 100), plus a ceiling on `page`
so an absurd number is a 422 instead of an OFFSET no database accepts.
"""

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Generic, TypeVar, get_args
from urllib.parse import unquote

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from fastapi_pagination import Params
from fastapi_pagination.cursor import CursorParams
from pydantic import BaseModel, create_model
from starlette.responses import Response

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000


PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size")]


async def page_params(page: PageNumber = 1, size: PageSize = DEFAULT_PAGE_SIZE) -> Params:
    return Params(page=page, size=size)


PageParams = Annotated[Params, Depends(page_params)]

# Every cursor this API makes is far shorter; a longer one is refused before it is decoded.
MAX_CURSOR_LENGTH = 512
CursorValue = Annotated[
    str | None,
    Query(max_length=MAX_CURSOR_LENGTH, description="A `next_page`/`previous_page` value"),
]


class PlainCursorParams(CursorParams):
    """Cursor parameters whose cursors a page carries as they are (base64), not
    percent-encoded: a client that puts one in a URL encodes it once, as any value, instead
    of sending `%253D`. A cursor an older page gave (quoted) is still read."""

    quoted_cursor: ClassVar[bool] = False


T = TypeVar("T")


def bad_cursor(message: str, raw: str) -> RequestValidationError:
    """A cursor we did not make: the documented 422 shape, like any bad query value."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", "cursor"), "msg": message, "input": raw}]
    )


def read_cursor(raw: str, parse: Callable[[Any], T]) -> T:
    """What `parse` makes of a cursor's JSON content (base64; a URL-quoted one as older
    pages gave is unquoted first, and a `+` a client left unencoded in the URL arrives as a
    space and is read as `+`); a 422 for anything `parse` or the decoding refuses, so a
    cursor the API did not make never reaches SQL."""
    try:
        text = unquote(raw).replace(" ", "+")
        return parse(json.loads(base64.b64decode(text, validate=True).decode()))
    except (binascii.Error, UnicodeError, ValueError, TypeError, OverflowError, RecursionError):
        raise bad_cursor("not a cursor this API made", raw) from None


@dataclass(frozen=True, slots=True)
class KeysetPage(Generic[T]):
    """One keyset page in reading order; `after` is its last row when pages follow it,
    `before` its first row when pages precede it (None otherwise)."""

    rows: list[T]
    after: T | None
    before: T | None


def keyset_page(
    read: Sequence[T], size: int, *, backwards: bool, from_cursor: bool
) -> KeysetPage[T]:
    """The page from up to `size + 1` rows read from a position (`from_cursor`) or from the
    start: going backwards they were read in the reversed order, so the page turns round;
    the extra row tells that more lie in the direction read."""
    more = len(read) > size
    rows = list(read[:size])
    if backwards:
        rows.reverse()
    if not rows:
        return KeysetPage(rows=[], after=None, before=None)
    has_next = more if not backwards else True
    has_previous = more if backwards else from_cursor
    return KeysetPage(
        rows=rows,
        after=rows[-1] if has_next else None,
        before=rows[0] if has_previous else None,
    )


class PageAnswer:
    """Pages of a fastapi-pagination page model answered as JSON bytes in one pass.

    Returned as the model, a page is validated twice (by `create`, then by FastAPI against
    the route's response model) and its items, a `Sequence` in fastapi-pagination's
    models, are serialized through a Python function of pydantic's: on the record lists
    that was a quarter of the request. Here `create` validates once into a twin of the page
    model whose items are a `list`, serialized in pydantic's core, and the route answers the
    bytes; it keeps the page model as its response model, so the schema is unchanged.
    tests/core/test_page_answer.py holds the bytes to FastAPI's own answer."""

    def __init__(self, page_model: type[BaseModel]) -> None:
        (item,) = get_args(page_model.model_fields["items"].annotation)
        self.model: Any = create_model(
            page_model.__name__, __base__=page_model, items=(list[item], ...)
        )

    def __call__(self, **page: Any) -> Response:
        """The answer to a page of `create(**page)`."""
        made = self.model.create(**page)
        return Response(
            made.__pydantic_serializer__.to_json(made, by_alias=True),
            media_type="application/json",
        )
