"""gunicorn's worker: uvicorn's, with the bounds a worker can keep without a proxy.

- `limit_concurrency` (WEB_LIMIT_CONCURRENCY): connections plus requests in progress per
  worker; past it uvicorn answers 503 at once instead of queueing without end.
- keep-alive: an idle connection is closed after gunicorn's `keepalive` (5 s).
- the request head: uvicorn's httptools parser keeps every header line it is sent and only
  then hands them over (the app's 16 KiB check came after all of it had been held); this
  protocol counts them as they are parsed and cuts the connection with 431 past 32 KiB.
- the time to send it: a connection must deliver a whole request head within
  WEB_HEADER_TIMEOUT_SECONDS of opening (or of its previous answer), or it is closed. An
  open socket counts against `limit_concurrency`, so without this 1,100 sockets that sent
  nothing held every worker at its limit until they left.
- the worker's own 503 (past `limit_concurrency`) is JSON in the API's shape,
  `{"detail": "Service Unavailable"}` with `Retry-After`, not uvicorn's plain text.

What a worker cannot do is time out a slow body or refuse a client by its address: that
is nginx's job (deploy/nginx/studylog.conf).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn_worker import UvicornWorker

from settings import settings

# Request line plus headers: above the app's own limits (16 KiB of headers, 8 KiB of
# query), so those still answer first with their exact status; this one bounds memory.
MAX_REQUEST_HEAD_BYTES = 32 * 1024
_TOO_LARGE = b'{"detail":"Request Header Fields Too Large"}'
_UNAVAILABLE = b'{"detail":"Service Unavailable"}'


async def json_service_unavailable(
    scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
) -> None:
    """The worker's answer past `limit_concurrency`, shaped like every API error."""
    del scope, receive
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_UNAVAILABLE)).encode()),
                (b"retry-after", b"1"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _UNAVAILABLE, "more_body": False})


class _HeadTooLarge(Exception):
    """Raised inside the parser's callback; httptools reports it as a parser error."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on the request head it holds."""

    _head_bytes = 0
    _head_too_large = False
    _head_deadline: asyncio.TimerHandle | None = None
    head_timeout_seconds = float(settings.WEB_HEADER_TIMEOUT_SECONDS)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._head_arrived()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Waiting for the next request (no pipelined one queued): its head is timed too.
        if not self.transport.is_closing() and not self.pipeline:
            self._await_head()

    def _await_head(self) -> None:
        self._head_arrived()
        self._head_deadline = self.loop.call_later(self.head_timeout_seconds, self._head_late)

    def _head_arrived(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_late(self) -> None:
        """No whole request head in time (nothing sent, or a head dribbled out): closed."""
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        if app is service_unavailable:
            app = json_service_unavailable
        super()._start_asgi_task(cycle, app)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value))
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_REQUEST_HEAD_BYTES:
            self._head_too_large = True
            raise _HeadTooLarge

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error; ours when the error was the head's size."""
        if not self._head_too_large:
            super().send_400_response(msg)
            return
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(_TOO_LARGE)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + _TOO_LARGE
        )
        self.transport.close()


class Worker(UvicornWorker):
    """The worker class gunicorn.conf.py names."""

    CONFIG_KWARGS: dict[str, Any] = {  # noqa: RUF012  (uvicorn_worker's own class attribute)
        **UvicornWorker.CONFIG_KWARGS,
        "http": BoundedHttpToolsProtocol,
        "limit_concurrency": settings.WEB_LIMIT_CONCURRENCY,
    }
