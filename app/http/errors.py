"""Which failures mean "a backing service is unreachable" (503) rather than a bug (500),
and the one FastAPI error answer the contract words differently.

A database that is down, restarting, refusing connections or not answering in time shows
up as a different exception in each driver, and Tortoise wraps some of them. The request
that meets one answers 503 `{"detail": "database unavailable"}` at once; the pools
reconnect by themselves when the database is back. Constraint violations, bad SQL and
every other error are not connection trouble and stay what they are.
"""

from __future__ import annotations

import json
import math
from typing import Any

import asyncpg
import pymysql
from fastapi import Request, Response, params
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymysql.constants import CR
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from tortoise.exceptions import DBConnectionError
from tortoise.exceptions import OperationalError as TortoiseOperationalError

from app.http.routing import allowed_methods
from app.http.text import safe_echo
from app.platform.errors import DomainError

DATABASE_UNAVAILABLE = "database unavailable"
SERVICE_UNAVAILABLE = "Service Unavailable"

# PostgreSQL: SQLSTATE class 08 (connection exception), class 57 (the server is shutting
# down, starting up, or cancelled the statement) and 53300 (too many connections).
_POSTGRES_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
)

# MySQL client error numbers for a connection that cannot be made or was lost.
_MYSQL_CONNECTION_ERRNOS = frozenset(
    {
        CR.CR_CONNECTION_ERROR,  # 2002: local socket
        CR.CR_CONN_HOST_ERROR,  # 2003: cannot connect
        CR.CR_SERVER_GONE_ERROR,  # 2006: server has gone away
        CR.CR_SERVER_LOST,  # 2013: lost connection during a query
        CR.CR_SERVER_LOST_EXTENDED,  # 2055
    }
)
# MySQL server error numbers meaning "try later": too many connections, shutting down.
_MYSQL_SERVER_ERRNOS = frozenset({1040, 1053})

_MAX_CHAIN = 8


def _is_mysql_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, pymysql.err.InterfaceError):
        return True  # aiomysql's "not connected" on a socket that was closed under it
    if isinstance(exc, pymysql.err.OperationalError) and exc.args:
        errno = exc.args[0]
        return errno in _MYSQL_CONNECTION_ERRNOS or errno in _MYSQL_SERVER_ERRNOS
    return False


def _is_unavailable_one(exc: BaseException) -> bool:
    if isinstance(exc, RedisError):
        return False  # Redis, not the database; see unavailable_detail()
    # OSError covers refused and reset connections, DNS failures, connect and command
    # timeouts (TimeoutError), and Tortoise's own DBConnectionError.
    if isinstance(exc, (OSError, DBConnectionError, *_POSTGRES_UNAVAILABLE)):
        return True
    if _is_mysql_unavailable(exc):
        return True
    # Tortoise re-raises pymysql errors as its OperationalError, the original in args.
    if isinstance(exc, TortoiseOperationalError):
        original = exc.args[0] if exc.args else None
        if isinstance(original, BaseException) and _is_mysql_unavailable(original):
            return True
        return exc.__context__ is not None and _is_mysql_unavailable(exc.__context__)
    return False


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and those it was explicitly raised from (`raise … from …`)."""
    found = [exc]
    while found[-1].__cause__ is not None and len(found) < _MAX_CHAIN:
        found.append(found[-1].__cause__)
    return found


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def is_database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached (not that a query was wrong)."""
    return any(_is_unavailable_one(e) for leaf in _leaves(exc) for e in _chain(leaf))


def unavailable_detail(exc: BaseException) -> str | None:
    """The 503 detail for a failure of a backing service; None for anything else (a 500)."""
    if any(isinstance(e, RedisError) for leaf in _leaves(exc) for e in _chain(leaf)):
        return SERVICE_UNAVAILABLE
    if is_database_unavailable(exc):
        return DATABASE_UNAVAILABLE
    return None


# FastAPI answers a body it cannot decode at all (not UTF-8, say) with this 400; the
# contract answers every malformed body 422, like a JSON syntax error.
_BODY_PARSE_ERROR = "There was an error parsing the body"


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI's own HTTPException handler, with the undecodable-body 400 made a 422."""
    if exc.status_code == 400 and exc.detail == _BODY_PARSE_ERROR:
        return JSONResponse(
            {
                "detail": [
                    {"type": "json_invalid", "loc": ["body"], "msg": "Body is not valid JSON"}
                ]
            },
            status_code=422,
        )
    if exc.status_code == 405:
        allowed = allowed_methods(request.app.router.routes, request.scope)
        if allowed:
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(allowed)}
    return await http_exception_handler(request, exc)


def _safe(value: Any) -> Any:
    """`value` with every string made echoable and every non-finite number made text."""
    if isinstance(value, str):
        return safe_echo(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {_safe(k): _safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe(item) for item in value]
    return value


JSON_BODY_EXPECTED = "The body must be JSON, sent with Content-Type: application/json"
FORM_BODY_EXPECTED = (
    "This route takes a form (Content-Type: application/x-www-form-urlencoded), not JSON"
)


def _body_kind_error(request: Request, errors: list[Any]) -> dict[str, Any] | None:
    """When the body was refused and the request sent another kind than the route reads
    (JSON without its content type, or JSON to a form route), the error that says so."""
    if not any(error.get("loc", ("",))[0] == "body" for error in errors):
        return None
    route = request.scope.get("route")
    field = getattr(route, "body_field", None)
    if field is None:
        return None
    sent = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    sent_json = sent == "application/json" or sent.endswith("+json")
    if isinstance(field.field_info, params.Form):
        message = FORM_BODY_EXPECTED if sent_json else None
    else:
        message = JSON_BODY_EXPECTED if sent and not sent_json else None
    if message is None:
        return None
    return {
        "type": "content_type",
        "loc": ["header", "content-type"],
        "msg": message,
        "input": sent,
    }


async def validation_error_handler(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's 422 answer with a safe echo: a NUL or a lone surrogate in the offending
    input becomes U+FFFD and NaN the text "nan", so any strict JSON parser reads the answer
    (FastAPI's own handler gave a 500 for a surrogate). A body of the wrong kind gets an
    error first that names the content type the route reads."""
    errors = list(exc.errors())
    kind = _body_kind_error(request, errors)
    if kind is not None:
        errors.insert(0, kind)
    body = json.dumps({"detail": _safe(jsonable_encoder(errors))}, allow_nan=False)
    return Response(body, status_code=422, media_type="application/json")


async def domain_error_handler(request: Request, exc: Exception) -> Response:
    """A domain's error (app/platform/errors.py) as the answer it carries."""
    del request
    assert isinstance(exc, DomainError)  # noqa: S101  # registered for DomainError only
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
