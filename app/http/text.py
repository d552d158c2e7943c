"""Text the service refuses wherever it comes from, and how an error may echo it.

PostgreSQL refuses a NUL character in any text, and no database (nor any UTF-8 answer)
can hold a lone surrogate, which JSON can spell as "\\ud800". JSON's NaN and Infinity
(Python's json module reads them, no standard does) are no numbers a column can take.
The inner layer's text guard (`app.http.guards.guard_text`) refuses all three in the query
string and the body before any route sees them; the functions here are its rules.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

# Pydantic's own error types where it has one (string_unicode, finite_number).
NUL = ("string_nul", "Text must not contain NUL characters")
SURROGATE = ("string_unicode", "Text must be valid Unicode (no lone surrogates)")
NOT_FINITE = ("finite_number", "NaN and Infinity are not JSON numbers")
NOT_UTF8 = ("json_invalid", "JSON must be encoded as UTF-8")

_UNSAFE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


class Problem(NamedTuple):
    """Where a refused value was, why, and what an error may echo of it."""

    loc: tuple[str | int, ...]
    type: str
    msg: str
    input: Any

    def error(self) -> dict[str, Any]:
        return {"type": self.type, "loc": list(self.loc), "msg": self.msg, "input": self.input}


def safe_echo(value: str) -> str:
    """`value` with NUL and lone surrogates replaced by U+FFFD: any UTF-8 answer holds it."""
    return _UNSAFE.sub(REPLACEMENT, value)


def text_problem(value: str) -> tuple[str, str] | None:
    """(type, message) when `value` holds a NUL or a lone surrogate; None when it is fine."""
    if "\x00" in value:
        return NUL
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE
    return None


class _NotFinite:
    """Stands in for a NaN or Infinity token while the parsed body is searched."""

    def __init__(self, token: str) -> None:
        self.token = token


def find_in_pairs(pairs: list[tuple[str, str]], location: str) -> Problem | None:
    """The first query or form field whose name or value cannot be stored."""
    for name, value in pairs:
        for text in (name, value):
            found = text_problem(text)
            if found:
                return Problem((location, safe_echo(name)), *found, safe_echo(value))
    return None


# Only a body holding one of these can carry what find_in_json looks for: a NUL or a
# surrogate is a \u escape in valid JSON (raw, they are invalid JSON already), and NaN and
# Infinity are bare tokens. Any other body is passed on without a second parse.
_SUSPECT_JSON = re.compile(rb"\\u|NaN|Infinity")


def find_in_json(body: bytes) -> Problem | None:
    """The first string, key or number in a JSON body that cannot be stored; None for a body
    without any, and for one that is no JSON at all (the route answers that itself).

    JSON exchanged between systems is UTF-8 (RFC 8259, 8.1). Python's json module also reads
    UTF-16 and UTF-32, where every escape is spelled with NUL bytes between its characters
    and so slips past the search below: such a body is refused as a whole."""
    if json.detect_encoding(body) not in {"utf-8", "utf-8-sig"}:
        return Problem(("body",), *NOT_UTF8, None)
    if not _SUSPECT_JSON.search(body):
        return None
    try:
        data = json.loads(body, parse_constant=_NotFinite)
    except (ValueError, RecursionError):
        return None
    # Iterative, so the nesting json.loads accepted cannot exhaust the stack here.
    stack: list[tuple[tuple[str | int, ...], Any]] = [(("body",), data)]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, str):
            found = text_problem(value)
            if found:
                return Problem(loc, *found, safe_echo(value))
        elif isinstance(value, _NotFinite):
            return Problem(loc, *NOT_FINITE, value.token)
        elif isinstance(value, dict):
            children: list[tuple[tuple[str | int, ...], Any]] = []
            for key, item in value.items():
                found = text_problem(key)
                if found:
                    return Problem((*loc, safe_echo(key)), *found, safe_echo(key))
                children.append(((*loc, key), item))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(reversed([((*loc, i), item) for i, item in enumerate(value)]))
    return None
