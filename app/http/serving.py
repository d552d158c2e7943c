"""gunicorn's worker: uvicorn's, with the bounds a worker can keep without a proxy.

- `limit_concurrency` (WEB_LIMIT_CONCURRENCY): connections plus requests in progress per
  worker; past it uvicorn answers 503 at once instead of queueing without end.
- keep-alive: an idle connection is closed after gunicorn's `keepalive` (5 s).
- the request head: uvicorn's httptools parser keeps every header line it is sent and only
  then hands them over (the app's 16 KiB check came after all of it had been held); this
  protocol counts them as they are parsed and cuts the connection with 431 past 32 KiB.

What a worker cannot do is time out a client that sends its head or body slowly, or refuse
a client by its address: that is nginx's job (deploy/nginx/studylog.conf).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn_worker import UvicornWorker

from settings import settings

# Request line plus headers: above the app's own limits (16 KiB of headers, 8 KiB of
# query), so those still answer first with their exact status; this one bounds memory.
MAX_REQUEST_HEAD_BYTES = 32 * 1024
_TOO_LARGE = b'{"detail":"Request Header Fields Too Large"}'


class _HeadTooLarge(Exception):
    """Raised inside the parser's callback; httptools reports it as a parser error."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on the request head it holds."""

    _head_bytes = 0
    _head_too_large = False

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
