"""WHERE conditions built for the dialect at hand: for the cases where Tortoise's lookups
(`=`, `icontains`) give different answers on different databases."""

import string

from pypika_tortoise import SqlContext, Table
from pypika_tortoise.functions import Lower
from pypika_tortoise.terms import Criterion, Function, Term, ValueWrapper
from pypika_tortoise.utils import format_alias_sql
from tortoise.expressions import Q
from tortoise.filters import Like, escape_like

from app.platform.dialect import Where

# MySQL's default collations compare case- and accent-insensitively (and "a" = "a "); this
# one compares code points, as PostgreSQL and SQLite do by default.
_MYSQL_EXACT_COLLATION = "utf8mb4_bin"
_ASCII_TO_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


class _Collate(Term):
    def __init__(self, term: Term, collation: str) -> None:
        super().__init__()
        self.term = term
        self.collation = collation  # one of our constants, never input

    def get_sql(self, ctx: SqlContext) -> str:
        sql = f"{self.term.get_sql(ctx.copy(with_alias=False))} COLLATE {self.collation}"
        return format_alias_sql(sql, self.alias, ctx) if ctx.with_alias else sql


def _literal(value: str) -> ValueWrapper:
    return ValueWrapper(value, allow_parametrize=False)


def exact_text(column: Term, dialect: str) -> Term:
    """The column compared code point by code point on every database."""
    if dialect == "mysql":
        return _Collate(column, _MYSQL_EXACT_COLLATION)
    return column


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
