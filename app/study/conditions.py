"""WHERE conditions built for the dialect at hand: for the cases where Tortoise's lookups
(`=`, `icontains`) give different answers on different databases."""

import string

from pypika_tortoise import Table
from pypika_tortoise.functions import Lower
from pypika_tortoise.terms import Criterion, Function, Term, ValueWrapper
from tortoise.expressions import Q
from tortoise.filters import Like, escape_like

from app.platform.dialect import Where, exact_text

_ASCII_TO_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _literal(value: str) -> ValueWrapper:
    return ValueWrapper(value, allow_parametrize=False)


def _ascii_lower(column: Term, dialect: str) -> Term:
    """LOWER() for A-Z only, which is all SQLite's LOWER() does; other letters stay as they are."""
    if dialect == "sqlite":
        return Lower(column)
    if dialect == "postgres":
        return Function(
            "TRANSLATE",
            column,
            _literal(string.ascii_uppercase),
            _literal(string.ascii_lowercase),
        )
    folded = exact_text(column, dialect)
    for upper, lower in zip(string.ascii_uppercase, string.ascii_lowercase, strict=True):
        folded = Function("REPLACE", folded, _literal(upper), _literal(lower))
    return folded


def subject_is(subject: str) -> Q:
    """subject equals exactly (MySQL's `=` alone would match "Math" for "math")."""
    return Where(
        lambda table, dialect: exact_text(table["subject"], dialect) == ValueWrapper(subject)
    )


def title_contains(needle: str) -> Q:
    """title contains the text: case-insensitive for A-Z, exact for every other character
    (accents included), `%`, `_` and `\\` taken literally; the same on every database."""
    pattern = f"%{escape_like(needle.translate(_ASCII_TO_LOWER))}%"

    def build(table: Table, dialect: str) -> Criterion:
        # MySQL's LIKE escapes with a backslash by default; the others need to be told.
        escape = "" if dialect == "mysql" else " ESCAPE '\\'"
        return Like(_ascii_lower(table["title"], dialect), ValueWrapper(pattern), escape=escape)

    return Where(build)
