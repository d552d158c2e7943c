"""The few things hand-written SQL needs to know of the three dialects (sqlite, postgres,
mysql): how a name is quoted, how a parameter is marked, a condition written once the query
knows its dialect, and a keyset bound that each dialect can seek on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pypika_tortoise import Table
from pypika_tortoise.terms import Criterion, Tuple, ValueWrapper
from tortoise.expressions import Q, ResolveContext
from tortoise.query_utils import QueryModifier


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
