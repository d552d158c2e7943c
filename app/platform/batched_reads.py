"""Reads of Redis keys that arrive in one turn of the event loop, sent as one MGET.

Every authenticated request reads one key (its user's session token, app/auth/sessions.py),
and redis-py's asyncio client spends about as much CPU on one command as the request spends
on its database page: taking a pooled connection, packing, sending, parsing, giving it back.
Requests that read in the same turn of the loop share one command instead. A read is sent
no earlier than it was asked for (at the end of the turn it was asked in), so it sees every
write that finished before it was asked: a revoked session is still refused at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

Fetch = Callable[[Sequence[str]], Awaitable[Sequence[bytes | None]]]


class BatchedReads:
    """`get(key)` answered from one `fetch(keys)` per turn of the loop (see the module)."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._waiting: dict[str, list[asyncio.Future[bytes | None]]] = {}
        self._sending: set[asyncio.Task[None]] = set()

    def get(self, key: str) -> asyncio.Future[bytes | None]:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bytes | None] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._send)
        self._waiting.setdefault(key, []).append(answer)
        return answer

    def _send(self) -> None:
        waiting, self._waiting = self._waiting, {}
        task = asyncio.ensure_future(self._answer(waiting))
        self._sending.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._sending.discard)

    async def _answer(self, waiting: dict[str, list[asyncio.Future[bytes | None]]]) -> None:
        keys = list(waiting)
        try:
            values = await self._fetch(keys)
        except asyncio.CancelledError:
            for answers in waiting.values():
                for answer in answers:
                    answer.cancel()
            raise
        except Exception as exc:  # pylint: disable=broad-exception-caught  # each reader's to handle
            for answers in waiting.values():
                for answer in answers:
                    if not answer.done():
                        answer.set_exception(exc)
            return
        for key, value in zip(keys, values, strict=True):
            for answer in waiting[key]:
                if not answer.done():  # its reader may have been cancelled meanwhile
                    answer.set_result(value)

    async def close(self) -> None:
        """Waits for the reads already sent (a store closes after its last request)."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
