"""The few things hand-written SQL needs to know of the three dialects (sqlite, postgres,
mysql): how a name is quoted, how a parameter is marked, a condition written once the query
knows its dialect, and a keyset bound that each dialect can seek on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pypika_tortoise import SqlContext, Table
from pypika_tortoise.terms import Criterion, Term, Tuple, ValueWrapper
from pypika_tortoise.utils import format_alias_sql
from tortoise.expressions import Q, ResolveContext
from tortoise.filters import Like, escape_like
from tortoise.query_utils import QueryModifier

# MySQL's default collations compare case- and accent-insensitively (and "a" = "a "); this
# one compares code points, as PostgreSQL and SQLite do by default.
MYSQL_EXACT_COLLATION = "utf8mb4_bin"


def quote(name: str, dialect: str) -> str:
    """A table or column name quoted for the dialect."""
    mark = "`" if dialect == "mysql" else '"'
    return f"{mark}{name}{mark}"


def placeholders(dialect: str, count: int, *, start: int = 1) -> list[str]:
    """The parameter marks of `count` values: $1… (asyncpg), %s (aiomysql), ? (sqlite)."""
    if dialect == "postgres":
        return [f"${n}" for n in range(start, start + count)]
    return ["%s" if dialect == "mysql" else "?"] * count


class Where(Q):
    """A condition that `build` writes once the query knows its table and dialect."""

    def __init__(self, build: Callable[[Table, str], Criterion]) -> None:
        super().__init__()
        self.build = build

    def resolve(self, resolve_context: ResolveContext) -> QueryModifier:
        dialect = resolve_context.model._meta.db.capabilities.dialect
        criterion = self.build(resolve_context.table, dialect)
        return QueryModifier(where_criterion=~criterion if self._is_negated else criterion)

    def __invert__(self) -> Q:
        negated = Where(self.build)
        negated._is_negated = not self._is_negated
        return negated


def beyond(key: str, value: Any, row_id: int, *, later: bool) -> Q:
    """Rows after (`later`) or before the row at (`key` = value, id = row_id) in the
    ascending order of (key, id): the bound of a keyset page.

    PostgreSQL and SQLite compare the pair as one row value, an index range of its own;
    MySQL does not range-scan row values, but it does the equivalent OR."""

    def build(table: Table, dialect: str) -> Criterion:
        column, ident = table[key], table["id"]
        bound, bound_id = ValueWrapper(value), ValueWrapper(row_id)
        if dialect == "mysql":
            if later:
                return (column > bound) | ((column == bound) & (ident > bound_id))
            return (column < bound) | ((column == bound) & (ident < bound_id))
        pair, limit = Tuple(column, ident), Tuple(bound, bound_id)
        return pair > limit if later else pair < limit

    return Where(build)


class _Collate(Term):
    def __init__(self, term: Term, collation: str) -> None:
        super().__init__()
        self.term = term
        self.collation = collation  # one of our constants, never input

    def get_sql(self, ctx: SqlContext) -> str:
        sql = f"{self.term.get_sql(ctx.copy(with_alias=False))} COLLATE {self.collation}"
        return format_alias_sql(sql, self.alias, ctx) if ctx.with_alias else sql


def exact_text(column: Term, dialect: str) -> Term:
    """The column compared code point by code point on every database."""
    if dialect == "mysql":
        return _Collate(column, MYSQL_EXACT_COLLATION)
    return column


def _glob_literal(text: str) -> str:
    """`text` matched as itself by GLOB: its wildcards each in a class of their own."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def starts_with(column: str, prefix: str) -> Q:
    """`column` begins with `prefix`, exactly (case and accents count on every database),
    written so that an index on the column can serve it: LIKE 'prefix%' on the bare
    column, never the CAST(column AS …) Tortoise's startswith writes, which no index can
    serve. PostgreSQL seeks on a text_pattern_ops index; MySQL on the column's index, then
    compares the rows it found exactly; SQLite's LIKE ignores ASCII case, so GLOB."""
    pattern = escape_like(prefix) + "%"

    def build(table: Table, dialect: str) -> Criterion:
        field = table[column]
        if dialect == "sqlite":
            return field.glob(_glob_literal(prefix) + "*")
        if dialect == "mysql":
            # MySQL's LIKE escapes with a backslash by default.
            return Like(field, ValueWrapper(pattern), escape="") & Like(
                exact_text(field, dialect), ValueWrapper(pattern), escape=""
            )
        return Like(field, ValueWrapper(pattern))

    return Where(build)
