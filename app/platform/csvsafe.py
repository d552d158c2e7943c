"""CSV lines a spreadsheet opens without running anything (the exports of records and audit).

Python's csv writer quotes a field only for the characters of its own line terminator: with
"\\n" rows, a field holding a bare "\\r" went out unquoted, and a spreadsheet (which ends a
row at any line break) read one row as two, the second starting with whatever the client
wrote after the "\\r", a formula included. Here a field holding a quote, a comma, a
semicolon, "\\r" or "\\n" is always quoted (RFC 4180), and text that could start a formula
gets a leading "'" (OWASP's CSV injection advice) wherever a spreadsheet may begin a cell
or a line: at the start of the field, after any line break inside it, and after a ";"
(the separator of spreadsheets in many locales, which may split an unquoted field). What
could start a formula: "=", "+", "-", "@", a tab or a carriage return, their full-width
forms (U+FF1D, U+FF0B, U+FF0D, U+FF20, which some spreadsheets read as the ASCII ones), each also
after blanks (" =1", U+3000, a no-break space), which some spreadsheets skip.
Numbers stay numbers: only text is defused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# A spreadsheet runs a cell (or a line of one) starting with one of these as a formula.
# Blanks first (a space, U+3000, a no-break space) are skipped by some spreadsheets.
_FORMULA_START = re.compile(r"(?:^|(?<=[\r\n;]))(?=[^\S\r\n]*[=+\-@\t\r\uff1d\uff0b\uff0d\uff20])")
_NEEDS_QUOTES = re.compile(r'[",;\r\n]')


def defuse(text: str) -> str:
    """`text` with a "'" before every formula start: the field's and each line's."""
    return _FORMULA_START.sub("'", text)


def cell(value: Any) -> str:
    """One field as written: None empty, text defused, quoted where it must be."""
    if value is None:
        return ""
    text = defuse(value) if isinstance(value, str) else str(value)
    if _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def line(values: Iterable[Any]) -> str:
    """One row, ending in "\\n"."""
    return ",".join(cell(value) for value in values) + "\n"


def lines(rows: Iterable[Iterable[Any]]) -> str:
    return "".join(line(row) for row in rows)
