"""Tortoise's asyncpg engine with connections handed out in the order they were asked for.

asyncpg's pool keeps free connections in an asyncio queue. A request that finds none waits;
when a connection comes back the first waiter is woken, but a request arriving meanwhile
takes the connection first, and the woken waiter, finding the queue empty again, waits at
the back. Under load (more requests in flight than connections) a few requests were passed
over again and again: seconds of waiting and a long p99 tail under load (docs/performance.md).

aiomysql's pool does the same with a condition variable: a released connection wakes one
waiter, and whoever takes the condition's lock first (often a newcomer) gets it.

`FairPool` puts a first-come, first-served gate in front: one ticket per connection of the
pool, and a returned ticket goes straight to the longest waiter, so no one can overtake.
The app's database config names this module as its engine for PostgreSQL, and
app/platform/fairpool_mysql.py for MySQL (app/platform/db.py); everything else about the
clients is Tortoise's own.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.backends.mysql.client import MySQLClient


class FairGate:
    """A counting gate whose waiters pass strictly in arrival order."""

    def __init__(self, tickets: int) -> None:
        self._free = tickets
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def enter(self) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.leave()  # handed a ticket just as it was cancelled: pass it on
            elif waiter in self._waiters:  # a `leave` may have dropped it already
                self._waiters.remove(waiter)
            raise

    def leave(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the ticket goes to it directly
                return
        self._free += 1

    @property
    def waiting(self) -> int:
        return len(self._waiters)


class FairPool:
    """An asyncpg pool behind a FairGate with as many tickets as the pool has connections.
    Tortoise uses `acquire` and `release`; everything else is the pool's own."""

    def __init__(self, pool: asyncpg.Pool, max_size: int) -> None:
        self._pool = pool
        self._gate = FairGate(max_size)

    async def acquire(self, **options: Any) -> Any:
        await self._gate.enter()
        try:
            return await self._pool.acquire(**options)
        except BaseException:
            self._gate.leave()
            raise

    async def release(self, connection: Any, **options: Any) -> None:
        try:
            await self._pool.release(connection, **options)
        finally:
            self._gate.leave()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


class FairMySQLPool(FairPool):
    """aiomysql's pool behind the gate, with the common case taken off aiomysql's path.

    Behind the gate, whoever holds a ticket finds a free connection or room for a new one:
    no one ever waits on aiomysql's condition. Yet its `acquire` takes that condition's lock
    and checks every free connection on every call, and its `release` makes a task that only
    wakes the condition's (absent) waiters; awaiting that task also held the ticket, and the
    request, for two more turns of the loop after every statement. So a free connection is
    taken here straight off aiomysql's free list (the oldest, with aiomysql's own checks
    that it is still open and not due for recycling), and a returned one put straight back;
    anything else (no free connection, a closed or terminated one, one left in a
    transaction, a closing pool, a waiter on the condition after all) goes aiomysql's way."""

    def __init__(self, pool: Any, max_size: int) -> None:
        super().__init__(pool, max_size)
        self._wakeups: set[asyncio.Future[Any]] = set()  # the loop keeps only weak references

    async def acquire(self, **options: Any) -> Any:
        await self._gate.enter()
        try:
            return self._take_free() or await self._pool.acquire(**options)
        except BaseException:
            self._gate.leave()
            raise

    def _take_free(self) -> Any:
        """The oldest free connection that aiomysql would hand out, closing stale ones on
        the way as it does; None when there is none (or the pool is not in its usual state)."""
        pool = self._pool
        # pylint: disable=protected-access  # aiomysql 0.3's pool state (pinned below 0.4)
        free, recycle = pool._free, pool._recycle
        while free and not pool._closing:
            conn = free.popleft()
            reader = conn._reader
            if reader is None:  # closed already (aiomysql never frees one so)
                continue
            if (
                reader.at_eof()
                or reader.exception()
                or reader.eof_received
                or -1 < recycle < pool._loop.time() - conn.last_usage
            ):
                conn.close()
                continue
            pool._used.add(conn)
            return conn
        return None

    async def release(self, connection: Any, **options: Any) -> None:
        pool = self._pool
        try:
            # pylint: disable=protected-access  # as in _take_free
            if (
                connection in pool._used
                and not connection.closed
                and not pool._closing
                and not pool._cond._waiters
                and not connection.get_transaction_status()
            ):
                pool._used.remove(connection)
                pool._free.append(connection)
                return
            wakeup = pool.release(connection, **options)
            if not wakeup.done():
                self._wakeups.add(wakeup)
                wakeup.add_done_callback(self._wakeups.discard)
        finally:
            self._gate.leave()


class FairAsyncpgDBClient(AsyncpgDBClient):
    async def create_pool(self, **kwargs: Any) -> Any:
        pool = await super().create_pool(**kwargs)
        return FairPool(pool, pool.get_max_size())


class FairMySQLClient(MySQLClient):
    async def create_connection(self, with_db: bool) -> None:
        await super().create_connection(with_db)
        if self._pool is not None and not isinstance(self._pool, FairPool):
            self._pool = FairMySQLPool(self._pool, self.pool_maxsize)  # type: ignore[assignment]


def get_client_class(db_info: dict[str, Any]) -> type[FairAsyncpgDBClient]:
    """Tortoise asks an engine module for its client class."""
    del db_info
    return FairAsyncpgDBClient
