"""The few things hand-written SQL needs to know of the three dialects (sqlite, postgres,
mysql): how a name is quoted and how a parameter is marked."""

from __future__ import annotations


def quote(name: str, dialect: str) -> str:
    """A table or column name quoted for the dialect."""
    mark = "`" if dialect == "mysql" else '"'
    return f"{mark}{name}{mark}"


def placeholders(dialect: str, count: int, *, start: int = 1) -> list[str]:
    """The parameter marks of `count` values: $1… (asyncpg), %s (aiomysql), ? (sqlite)."""
    if dialect == "postgres":
        return [f"${n}" for n in range(start, start + count)]
    return ["%s" if dialect == "mysql" else "?"] * count
