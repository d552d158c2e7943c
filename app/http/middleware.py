"""The service's own two ASGI middlewares, around FastAPI's (and CORS's, when configured).

Seven pure-ASGI middlewares used to wrap one another, each one more coroutine and most one
more `send` wrapper per request. Now two, named by what they do:

- `RequestObserver`, met first: the request's time for the metrics, its request id (context
  variable and X-Request-ID), its audit entry, then the Host check. One `send` wrapper
  sees the status and the bytes for all of them. It sits outside everything that can
  answer, so the audit trail and the metrics see the final status of every request (CORS
  preflights, bad Hosts, 413s and JSON 500s too).
- `InputGuard`, met last before the app: an unhandled exception becomes a logged JSON 500
  (or a 503 for an outage), oversized requests are refused before the app reads them, and
  text no database can store is refused with 422 (app/http/guards.py holds those
  rules and their helpers).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.guards import (
    REQUEST_ID_HEADER_BYTES,
    HostCheck,
    RequestLimits,
    guard_text,
    refuse,
    sane_request_id,
    send_json,
    server_error,
)
from app.http.routing import route_template
from app.platform import metrics
from app.platform.context import request_id_var


@dataclass(frozen=True, slots=True)
class Answered:
    """What the observer saw of one request besides its scope."""

    request_id: str
    created_at: datetime
    status: int
    duration_ms: float
    response_bytes: int


class RequestRecorder(Protocol):
    """What records an answered request (the audit trail's recorder, given by create_app)."""

    def wants(self, scope: Scope) -> bool: ...

    def record(self, scope: Scope, answered: Answered) -> None: ...


class _HttpOnly:
    """A middleware that passes anything but HTTP (lifespan, websockets) straight through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


# The status recorded when the client went away or the server stopped before an answer.
CLIENT_CLOSED_STATUS = 499
SERVER_ERROR_STATUS = 500
_BAD_HOST_BODY = b'{"detail":"Invalid host header"}'
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def relative_location(scope: Scope, headers: list[tuple[bytes, bytes]]) -> None:
    """A redirect to this same host (Starlette's trailing-slash redirect) made relative:
    the app built it from the scheme it saw, which behind a TLS proxy is `http`, so an
    absolute `http://host/…` would send the client off HTTPS. `/path?query` keeps the
    client on the scheme and host it used (RFC 9110 allows a relative Location)."""
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    if host is None:
        return
    for index, (name, value) in enumerate(headers):
        if name.lower() != b"location":
            continue
        parts = urlsplit(value.decode("latin-1"))
        if parts.scheme in ("http", "https") and parts.netloc.encode("latin-1") == host:
            relative = parts.path or "/"
            if parts.query:
                relative += "?" + parts.query
            headers[index] = (name, relative.encode("latin-1"))


access_logger = logging.getLogger("app.access")


def _log_access(scope: Scope, status: int, seconds: float, response_bytes: int) -> None:
    """One line for one request: the route template, never the path or query (they may
    carry tokens; the audit trail keeps them redacted)."""
    route = route_template(scope)
    access_logger.info(
        "%s %s %d",
        scope["method"],
        route,
        status,
        extra={
            "method": scope["method"],
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "response_bytes": response_bytes,
        },
    )


class RequestObserver(_HttpOnly):
    """Metrics, request id, audit entry and Host check, in that order, in one layer."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: HostCheck,
        audit: RequestRecorder | None = None,
        count_metrics: bool = False,
        access_log: bool = False,
    ) -> None:
        super().__init__(app)
        self.hosts = hosts
        self.audit = audit
        self.count_metrics = count_metrics
        self.access_log = access_log

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        client_value = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                client_value = value.decode("latin-1")
                break
        request_id = sane_request_id(client_value)
        request_id_header = (REQUEST_ID_HEADER_BYTES, request_id.encode("latin-1"))
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        audited = self.audit is not None and self.audit.wants(scope)
        created_at = datetime.now(UTC) if audited else None
        status: int | None = None
        response_bytes = 0

        async def edge_send(message: Message) -> None:
            nonlocal status, response_bytes
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    header
                    for header in message.get("headers", ())
                    if header[0].lower() != REQUEST_ID_HEADER_BYTES
                ]
                headers.append(request_id_header)
                if status in _REDIRECTS:
                    relative_location(scope, headers)
                message["headers"] = headers
            elif message["type"] == "http.response.body":
                response_bytes += len(message.get("body", b""))
            await send(message)

        failure: BaseException | None = None
        try:
            if self.hosts.allows(scope):
                await self.app(scope, receive, edge_send)
            else:
                await send_json(edge_send, 400, _BAD_HOST_BODY, [])
        except BaseException as exc:
            failure = exc
            raise
        finally:
            seconds = time.perf_counter() - started
            if status is None:
                cancelled = isinstance(failure, asyncio.CancelledError)
                status = CLIENT_CLOSED_STATUS if cancelled else SERVER_ERROR_STATUS
            if self.access_log:
                _log_access(scope, status, seconds, response_bytes)
            request_id_var.reset(token)
            if audited and self.audit is not None and created_at is not None:
                self.audit.record(
                    scope,
                    Answered(request_id, created_at, status, seconds * 1000, response_bytes),
                )
            if self.count_metrics:
                metrics.observe(scope["method"], route_template(scope), status, seconds)


class InputGuard(_HttpOnly):
    """The JSON error guard, the size limits and the text guard, in that order, in one layer."""

    def __init__(self, app: ASGIApp, *, limits: RequestLimits) -> None:
        super().__init__(app)
        self.limits = limits

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            refusal = self.limits.refusal(scope)
            if refusal is not None:
                await refuse(tracking_send, *refusal)
                return
            receive = self.limits.counting(scope, receive)
            await guard_text(self.app, scope, receive, tracking_send)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # the JSON 500 guard
            answer = server_error(scope, exc)
            if started:
                raise  # the answer is half sent; only the server can end the connection
            await send_json(send, *answer)
