"""The database pool's gate: connections go to waiters in the order they asked, a newcomer
never overtakes, and a cancelled waiter neither holds nor loses a ticket."""

from __future__ import annotations

import asyncio

import pytest
from tortoise import Tortoise

from app.platform.fairpool import FairGate, FairMySQLPool, FairPool


async def test_waiters_pass_in_arrival_order_and_newcomers_queue_behind_them() -> None:
    gate = FairGate(1)
    await gate.enter()  # the one ticket is taken
    order: list[str] = []

    async def waiter(name: str) -> None:
        await gate.enter()
        order.append(name)
        await asyncio.sleep(0)
        gate.leave()

    first = asyncio.create_task(waiter("first"))
    second = asyncio.create_task(waiter("second"))
    await asyncio.sleep(0)
    gate.leave()  # handed to `first` directly
    # A newcomer arriving now, before `first` has run, must not take the ticket.
    newcomer = asyncio.create_task(waiter("newcomer"))
    await asyncio.gather(first, second, newcomer)
    assert order == ["first", "second", "newcomer"]
    assert gate.waiting == 0


async def test_a_cancelled_waiter_hands_its_ticket_on() -> None:
    gate = FairGate(1)
    await gate.enter()
    cancelled = asyncio.create_task(gate.enter())
    after = asyncio.create_task(gate.enter())
    await asyncio.sleep(0)
    gate.leave()  # the ticket goes to `cancelled`, which is cancelled before it runs
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    async with asyncio.timeout(1):
        await after  # it got the ticket `cancelled` could not use
    gate.leave()
    await gate.enter()  # and exactly one ticket is left
    assert gate.waiting == 0


async def test_a_waiter_cancelled_and_passed_over_before_it_runs_stays_cancelled() -> None:
    """Cancelling a task cancels the future it awaits at once, but the task sees it only on
    its next turn: a `leave` in between passes over (drops) that future. The waiter must
    still end cancelled, not with an error of the gate's, and the ticket goes on."""
    gate = FairGate(1)
    await gate.enter()
    cancelled = asyncio.create_task(gate.enter())
    after = asyncio.create_task(gate.enter())
    await asyncio.sleep(0)
    cancelled.cancel()
    gate.leave()  # drops the cancelled future, hands the ticket to `after`
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await asyncio.wait_for(after, 1)
    assert gate.waiting == 0


@pytest.mark.parametrize("backend", ["postgres", "mysql"], indirect=True)
async def test_the_app_uses_the_fair_pool_on_postgresql_and_mysql(
    client: object, backend: str
) -> None:
    """The app's PostgreSQL and MySQL connections are the fair engines, and they query
    through them with more concurrent queries than the pool has connections."""
    del client
    connection = Tortoise.get_connection("default")
    pool = connection._pool  # pylint: disable=protected-access  # what Tortoise acquires from
    assert isinstance(pool, FairPool)
    if backend == "postgres":
        size, sql = pool.get_max_size(), "SELECT pg_sleep(0.01), $1::int AS n"
    else:
        size, sql = pool.maxsize, "SELECT SLEEP(0.01), CAST(%s AS SIGNED) AS n"
    results = await asyncio.gather(
        *(connection.execute_query_dict(sql, [n]) for n in range(size * 3))
    )
    assert [rows[0]["n"] for rows in results] == list(range(size * 3))
    assert pool._gate.waiting == 0  # pylint: disable=protected-access


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
async def test_a_mysql_release_hands_the_ticket_on_without_waiting_for_the_loop(
    client: object,
) -> None:
    """aiomysql's release returns a task that only wakes its own pool's waiters; the gate
    must not wait for it: the ticket and the connection are back before the loop turns."""
    del client
    pool = Tortoise.get_connection("default")._pool  # pylint: disable=protected-access  # as above
    assert isinstance(pool, FairMySQLPool)
    connection = await pool.acquire()
    waiter = asyncio.create_task(pool.acquire())
    turned: list[bool] = []
    asyncio.get_running_loop().call_soon(turned.append, True)
    await pool.release(connection)
    assert not turned  # no turn of the loop passed in the release
    assert pool.freesize >= 1
    await pool.release(await waiter)
    await asyncio.sleep(0)
    assert pool._gate.waiting == 0  # pylint: disable=protected-access


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
async def test_a_mysql_connection_is_taken_and_given_back_as_aiomysql_would(
    client: object,
) -> None:
    """The gate's own path around aiomysql's: the oldest free connection is handed out and
    comes back to the free list with no task made; one due for recycling is closed and
    replaced; one left inside a transaction is closed, not reused."""
    del client
    pool = Tortoise.get_connection("default")._pool  # pylint: disable=protected-access  # as above
    assert isinstance(pool, FairMySQLPool)
    inner = pool._pool  # pylint: disable=protected-access  # aiomysql's pool behind the gate
    first = await pool.acquire()
    await pool.release(first)
    tasks = len(asyncio.all_tasks())
    again = await pool.acquire()
    assert again is first
    assert first in inner._used  # pylint: disable=protected-access
    await pool.release(again)
    assert len(asyncio.all_tasks()) == tasks
    assert inner._free[-1] is first  # pylint: disable=protected-access
    assert first not in inner._used  # pylint: disable=protected-access

    recycle = inner._recycle  # pylint: disable=protected-access
    inner._recycle = 0  # pylint: disable=protected-access  # every free connection is due
    try:
        await asyncio.sleep(0.01)
        fresh = await pool.acquire()
    finally:
        inner._recycle = recycle  # pylint: disable=protected-access
    assert fresh is not first
    assert first.closed
    assert not fresh.closed
    await fresh.begin()
    await pool.release(fresh)
    assert fresh.closed
    assert fresh not in inner._free  # pylint: disable=protected-access
    rows = await Tortoise.get_connection("default").execute_query_dict("SELECT 1 AS n")
    assert rows == [{"n": 1}]
    assert pool._gate.waiting == 0  # pylint: disable=protected-access
