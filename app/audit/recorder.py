"""The audit entry of each HTTP request, handed to the writer when it is answered.

The service's outer layer (app/http/middleware.py) records it, outside everything that can
answer (CORS, the JSON 500 guard, the router), so it sees every final status. It never
reads bodies, the Authorization header or cookies, and it never awaits the database.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_plus

from starlette.types import Scope

from app.audit.models import (
    PATH_MAX_LENGTH,
    QUERY_MAX_LENGTH,
    ROUTE_MAX_LENGTH,
    USER_AGENT_MAX_LENGTH,
)
from app.audit.writer import AuditEntry, AuditWriter
from app.http.middleware import Answered
from app.http.net import client_ip
from app.http.routing import route_template
from app.platform.redact import is_secret_name

logger = logging.getLogger("app.audit")

METHOD_MAX_LENGTH = 16
REQUEST_ID_MAX_LENGTH = 128
CLIENT_IP_MAX_LENGTH = 45
REDACTED = "***"
# A JWT is a secret whatever its parameter is called.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
# A run of URL-safe characters long enough to be a random token (an opaque refresh token
# is 43 of them); `_is_token` decides whether it looks random.
_RUN = re.compile(r"[A-Za-z0-9_-]{20,}")
_HEX = frozenset("0123456789abcdefABCDEF")
_QUERY_SEPARATORS = re.compile(r"([&;])")


# From this length a run with upper and lower case letters is a token even without a
# digit: `secrets.token_urlsafe(32)` (43 characters) has none about once in 1,400.
_LONG_RUN = 32


def _is_token(run: str) -> bool:
    """Random-looking: upper and lower case letters and digits mixed (a UUID, a word or a
    version string is not), upper and lower case mixed in a run of 32 or more, or a long
    run of hex digits without a UUID's dashes."""
    if len(run) >= _LONG_RUN and all(c in _HEX for c in run):
        return True
    mixed_case = any(c.isupper() for c in run) and any(c.islower() for c in run)
    return mixed_case and (len(run) >= _LONG_RUN or any(c.isdigit() for c in run))


def redact_tokens(text: str) -> str:
    """`text` with every JWT and every token-shaped run replaced by ***."""
    text = _JWT.sub(REDACTED, text)
    return _RUN.sub(lambda m: REDACTED if _is_token(m.group()) else m.group(), text)


def _redact_value(raw: str) -> str:
    """The value as sent, or *** when it holds a token once decoded."""
    decoded = unquote_plus(raw)
    return REDACTED if redact_tokens(decoded) != decoded else raw


def redact_query(query: str) -> str:
    """The query string as sent, with the values of secret-named parameters (the rule of
    app/platform/redact.py) and token-shaped values replaced by *** (pairs split at `&`
    and at `;`)."""
    if not query:
        return ""
    parts = []
    for part in _QUERY_SEPARATORS.split(query):
        name, sep, value = part.partition("=")
        if part in {"&", ";"} or not part:
            parts.append(part)
        elif sep and value and is_secret_name(name):
            parts.append(f"{name}={REDACTED}")
        elif sep:
            parts.append(f"{name}={_redact_value(value)}")
        else:
            parts.append(_redact_value(name))
    return "".join(parts)


class KnownClean:
    """Texts a redaction returned unchanged (the usual path, query or user agent), so the
    next request with the same text skips the parsing and the regular expressions: a
    redaction was a third of an entry's cost. Only texts with nothing to redact are kept
    (never a secret), up to `size` of at most `longest` characters; when full it starts
    over, so a flood of distinct texts costs memory no more than that. One per field: a
    text with nothing to redact as a user agent may have a secret as a query, and paths
    (with their ids) turn over faster than user agents."""

    def __init__(self, redact: Callable[[str], str], *, size: int = 1024, longest: int = 256):
        self.redact = redact
        self.size = size
        self.longest = longest
        self._texts: set[str] = set()

    def __call__(self, text: str) -> str:
        if text in self._texts:
            return text
        redacted = self.redact(text)
        if redacted == text and len(text) <= self.longest:
            if len(self._texts) >= self.size:
                self._texts.clear()
            self._texts.add(text)
        return redacted


def _clean(value: str, max_length: int) -> str:
    """Cut to the column; NUL is refused by PostgreSQL and would fail the whole batch."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value[:max_length]


def _user_id(state: dict[str, Any]) -> uuid.UUID | None:
    value = state.get("user_id")
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class AuditRecorder:
    """Turns every answered HTTP request not under one of `exclude_paths` (prefixes) into
    an entry for the writer; the outer layer (app/http/middleware.py) calls it."""

    def __init__(
        self,
        *,
        writer: AuditWriter,
        exclude_paths: Iterable[str] = (),
        trusted_proxies: Iterable[str] = (),
    ) -> None:
        self.writer = writer
        self.exclude_paths = tuple(exclude_paths)
        self.trusted_proxies = tuple(trusted_proxies)
        self._path = KnownClean(redact_tokens)
        self._query = KnownClean(redact_query)
        self._user_agent = KnownClean(redact_tokens)

    def wants(self, scope: Scope) -> bool:
        return not (self.exclude_paths and scope["path"].startswith(self.exclude_paths))

    def record(self, scope: Scope, answered: Answered) -> None:
        """Queues the entry; never raises (the audit trail must never turn an answered
        request into a failure) and never waits."""
        try:
            self.writer.enqueue(self._entry(scope, answered))
        except Exception:  # pylint: disable=broad-exception-caught
            logger.exception("audit: could not record %s %s", scope["method"], scope["path"])

    def _entry(self, scope: Scope, answered: Answered) -> AuditEntry:
        state = scope.get("state") or {}
        user_agent = None
        for name, value in scope["headers"]:
            if name == b"user-agent":
                user_agent = _clean(
                    self._user_agent(value.decode("latin-1")), USER_AGENT_MAX_LENGTH
                )
                break
        query = scope.get("query_string", b"").decode("latin-1")
        ip = client_ip(scope, self.trusted_proxies)
        return {
            "created_at": answered.created_at,
            "request_id": _clean(answered.request_id, REQUEST_ID_MAX_LENGTH),
            "method": _clean(scope["method"], METHOD_MAX_LENGTH),
            "path": _clean(self._path(scope["path"]), PATH_MAX_LENGTH),
            "route": _clean(route, ROUTE_MAX_LENGTH) if (route := route_template(scope)) else None,
            "query": _clean(self._query(query), QUERY_MAX_LENGTH) if query else "",
            "status_code": answered.status,
            "duration_ms": round(answered.duration_ms, 3),
            "client_ip": ip[:CLIENT_IP_MAX_LENGTH] if ip else None,
            "user_agent": user_agent,
            "user_id": _user_id(state),
            "response_bytes": answered.response_bytes,
        }
