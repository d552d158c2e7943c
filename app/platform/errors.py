"""The one base of the errors domains raise: each kind carries the HTTP status and the
`detail` code it is answered with, and one exception handler (app/http/errors.py) answers
it. Services raise these, never FastAPI's HTTPException; routes need no `except` ladders."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A failure with one answer: `{"detail": detail}` with `status_code`. The detail is
    any JSON value: a code, or an object when the client needs more than one (a refused
    password says which rule it broke)."""

    status_code: int = 400
    detail: Any = "BAD_REQUEST"

    def __init__(self, detail: Any = None, *, headers: dict[str, str] | None = None):
        super().__init__(detail or self.detail)
        if detail is not None:
            self.detail = detail
        self.headers = headers


class NotFound(DomainError):
    """The base of every domain's not-found error (what `get` raises, `find` returns None)."""

    status_code = 404
    detail = "Not Found"
