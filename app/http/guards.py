"""The rules of the service's own ASGI layers (app/http/middleware.py): request ids, the Host
check, the JSON error guard, the size limits and the text guard."""

import email.message
import logging
import os
import re
from urllib.parse import parse_qsl

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http import text
from app.http.errors import unavailable_detail

logger = logging.getLogger("app.errors")

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_HEADER_BYTES = REQUEST_ID_HEADER.lower().encode()
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_INTERNAL_ERROR_BODY = b'{"detail":"Internal Server Error"}'


def sane_request_id(value: str | None) -> str:
    """The client's id when it is up to 128 safe characters, a fresh one otherwise."""
    if value and _SAFE_REQUEST_ID.fullmatch(value):
        return value
    # 128 random bits as 32 hex digits, the shape of uuid4().hex without building a UUID.
    return os.urandom(16).hex()


class HostCheck:
    """Whether a request's Host is one of `allowed_hosts` (`*` allows any, `*.example.com` a
    domain's subdomains). The outer layer answers any other with 400 `{"detail": "Invalid
    host header"}`, so nothing the app answers (a redirect's Location above all) can name a
    host the client made up. Starlette's TrustedHostMiddleware does the same in plain text."""

    def __init__(self, allowed_hosts: list[str]) -> None:
        self.any_host = "*" in allowed_hosts
        names = [host.lower() for host in allowed_hosts]
        self.exact = frozenset(n for n in names if not n.startswith("*."))
        self.suffixes = tuple(n[1:] for n in names if n.startswith("*."))

    def allows(self, scope: Scope) -> bool:
        if self.any_host:
            return True
        host = ""
        for name, value in scope["headers"]:
            if name == b"host":
                host = _host_name(value.decode("latin-1"))
                break
        return host in self.exact or bool(self.suffixes and host.endswith(self.suffixes))


def _host_name(value: str) -> str:
    """The name in a Host header, lower-case, without the port (`[::1]:8000` -> `[::1]`)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value.partition("]")[0] + "]"
    return value.partition(":")[0]


def server_error(scope: Scope, exc: Exception) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """The JSON answer to an unhandled exception, logged once with the request id: 500
    `{"detail": "Internal Server Error"}` for a bug, 503 with Retry-After for an outage.
    Starlette's own handler answers in plain text and re-raises, so the server logs a
    second trace."""
    detail = unavailable_detail(exc)
    if detail is None:
        logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
        return 500, _INTERNAL_ERROR_BODY, []
    # An outage, not a bug: one line, no trace, and a hint to try again.
    logger.warning(
        "%s on %s %s: %s: %s",
        detail,
        scope.get("method"),
        scope.get("path"),
        type(exc).__name__,
        exc,
    )
    return 503, orjson.dumps({"detail": detail}), [(b"retry-after", b"1")]


class RequestLimits:
    """Which oversized requests to refuse with a JSON error before the app sees them.

    - body over `max_body_bytes`: 413 `{"detail": "Content Too Large"}`. A declared
      Content-Length over the limit is answered before a byte is read; a chunked body is
      counted as it arrives and refused as soon as it passes the limit, so no request holds
      more than the limit in memory. Paths under a prefix of `body_limits_by_prefix` get
      that prefix's limit instead (the account routes only take small bodies).
    - query string over `max_query_bytes`: 414 `{"detail": "URI Too Long"}`.
    - headers over `max_header_bytes` in all: 431 `{"detail": "Request Header Fields Too
      Large"}` (uvicorn's httptools parser sets no limit of its own).
    """

    def __init__(
        self,
        *,
        max_body_bytes: int,
        max_query_bytes: int,
        max_header_bytes: int,
        body_limits_by_prefix: tuple[tuple[str, int], ...] = (),
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.body_limits_by_prefix = body_limits_by_prefix
        self.max_query_bytes = max_query_bytes
        self.max_header_bytes = max_header_bytes

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """(status, detail) of the answer to a request over a limit; None for the others."""
        if len(scope.get("query_string", b"")) > self.max_query_bytes:
            return 414, "URI Too Long"
        header_bytes = 0
        declared = b""
        for name, value in scope["headers"]:
            header_bytes += len(name) + len(value)
            if name == b"content-length":
                declared = value
        if header_bytes > self.max_header_bytes:
            return 431, "Request Header Fields Too Large"
        if declared.isdigit() and int(declared) > self._body_limit(scope["path"]):
            return 413, "Content Too Large"
        return None

    def counting(self, scope: Scope, receive: Receive) -> Receive:
        """`receive`, refusing a body that grows past the limit as it arrives."""
        limit = self._body_limit(scope["path"])
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI passes an HTTPException from reading the body through to its
                    # JSON error handler.
                    raise HTTPException(413, "Content Too Large")
            return message

        return counting_receive

    def _body_limit(self, path: str) -> int:
        for prefix, limit in self.body_limits_by_prefix:
            if path.startswith(prefix):
                return limit
        return self.max_body_bytes


# The content types as clients usually spell them, and what the parse below makes of them.
_PLAIN_KINDS = {
    "application/json": "json",
    "application/x-www-form-urlencoded": "form",
}


def _body_kind(scope: Scope) -> str | None:
    """ "json" or "form" for the bodies a route parses (FastAPI's own rule: an
    application/json or application/*+json, a urlencoded or multipart form); else None."""
    content_type = ""
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.decode("latin-1")
            break
    if not content_type:
        return None
    if content_type in _PLAIN_KINDS:  # what nearly every client sends, read without parsing
        return _PLAIN_KINDS[content_type]
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    if message.get_content_maintype() == "application":
        if subtype == "json" or subtype.endswith("+json"):
            return "json"
        if subtype == "x-www-form-urlencoded":
            return "form"
    if message.get_content_type() == "multipart/form-data":
        return "form"
    return None


async def guard_text(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Runs `app` unless the request holds what no database can store and no JSON answer can
    echo, which gets one 422 naming the parameter: a NUL in a query parameter or a form
    field, a NUL or a lone surrogate in any JSON string or key, and NaN or Infinity in a
    JSON body (app/http/text.py).

    One guard for every route, the account routes of fastapi-users included, instead of a
    validator on each field. A JSON or form body is read whole before the route runs (the
    route would read it whole anyway; the size limits bound it) and handed on unchanged;
    only a body that can hold such text is parsed twice.
    """
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        problem = text.find_in_pairs(pairs, "query")
        if problem:
            await _refuse_input(send, problem)
            return
    kind = _body_kind(scope)
    if kind is None:
        await app(scope, receive, send)
        return
    try:
        body, more = await _read_body(receive)
    except HTTPException as exc:  # RequestLimits.counting: the body is too large
        await refuse(send, exc.status_code, str(exc.detail))
        return
    if more:  # the client went away half-way
        return
    if kind == "json":
        problem = text.find_in_json(body)
    else:
        problem = await _find_in_form(scope, body)
    if problem:
        await _refuse_input(send, problem)
        return
    await app(scope, replay(body, receive), send)


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole body, and whether the client disconnected before its end."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the app the body already read, then the client's own channel
    (where a disconnect shows)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _find_in_form(scope: Scope, body: bytes) -> text.Problem | None:
    # A NUL is "%00" in a urlencoded form and a raw byte in a multipart one; a surrogate
    # cannot be spelled in either (undecodable bytes become U+FFFD).
    if b"%00" not in body and b"\x00" not in body:
        return None
    request = Request(scope, replay(body, _no_more_messages))
    try:
        form = await request.form()
    except Exception:  # pylint: disable=broad-exception-caught  # the route answers it
        return None
    try:
        pairs = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
        return text.find_in_pairs(pairs, "body")
    finally:
        await form.close()


async def _no_more_messages() -> Message:
    return {"type": "http.disconnect"}


async def _refuse_input(send: Send, problem: text.Problem) -> None:
    await send_json(send, 422, orjson.dumps({"detail": [problem.error()]}), [])


async def refuse(send: Send, status: int, detail: str) -> None:
    await send_json(send, status, orjson.dumps({"detail": detail}), [(b"connection", b"close")])


async def send_json(
    send: Send, status: int, body: bytes, extra_headers: list[tuple[bytes, bytes]]
) -> None:
    """A whole JSON answer, straight onto the ASGI channel."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra_headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
