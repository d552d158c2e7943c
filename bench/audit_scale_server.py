"""The app of bench/audit_scale.py on one scratch database, in this process or in a process of
its own that times one request at a time when asked.

Why a process per size: each in-process app owns its process's one Tortoise configuration,
so one process cannot serve two databases by turns. With a process per size, the bench asks
each in turn for one request, request by request, and whatever load the machine has then
falls on every size alike; the child times the request itself (the app in its process, no
network), so the pipe between them is not in the figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import secrets
import statistics
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterable
from multiprocessing.connection import Connection
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from app.audit import service
from app.audit.schemas import AuditLogFilters
from app.auth.models import User
from app.main import create_app
from settings import Settings

EMAIL = "audit-bench@example.com"
PASSWORD = "audit bench password 123"  # noqa: S105
CURSOR = "/api/v1/audit-logs/cursor?size=50"


def settings_for(url: str) -> Settings:
    return Settings(
        DATABASE_URL=url,
        SECRET_KEY=secrets.token_urlsafe(48),
        AUDIT_ENABLED=False,  # the bench's own requests stay out of the table it measures
        REDIS_URL="",
    )


@contextlib.asynccontextmanager
async def serving(url: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """The app on `url` in this process, and a superuser's client (registered on first use)."""
    app = create_app(settings_for(url))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            if not await User.filter(email=EMAIL).exists():
                reply = await client.post(
                    "/api/v1/auth/register", json={"email": EMAIL, "password": PASSWORD}
                )
                assert reply.status_code == 201, reply.text
                await User.filter(email=EMAIL).update(is_superuser=True)
            login = await client.post(
                "/api/v1/auth/jwt/login", data={"username": EMAIL, "password": PASSWORD}
            )
            yield client, {"Authorization": f"Bearer {login.json()['access_token']}"}


async def cursor_of_page(client: httpx.AsyncClient, headers: dict[str, str], page: int) -> str:
    """The URL of the cursor route's page `page`, walked to from its first."""
    url = CURSOR
    for _ in range(page - 1):
        body = (await client.get(url, headers=headers)).json()
        assert "next_page" in body, body
        url = f"{CURSOR}&cursor={body['next_page']}"
    return url


async def get_ms(client: httpx.AsyncClient, headers: dict[str, str], url: str) -> float:
    start = time.perf_counter()
    response = await client.get(url, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, response.text
    return elapsed


async def count_ms(filters: dict[str, Any]) -> float:
    """One count part, as a page counts its total (`service.total`: the capped count of the
    matches, or kept counts)."""
    given = AuditLogFilters(**filters)
    start = time.perf_counter()
    await service.total(given)
    return (time.perf_counter() - start) * 1000


async def _serve(url: str, pipe: Connection) -> None:
    async with serving(url) as (client, headers):
        pipe.send(("ok", None))
        while True:
            # Read in a thread, so the app's own background work runs while the child waits.
            command, *args = await asyncio.to_thread(pipe.recv)
            if command == "stop":
                pipe.send(("ok", None))
                return
            try:
                if command == "get":
                    result: Any = await get_ms(client, headers, *args)
                elif command == "cursor":
                    result = await cursor_of_page(client, headers, *args)
                else:
                    result = await count_ms(*args)
            except Exception:  # pylint: disable=broad-exception-caught  # sent to the parent
                pipe.send(("error", traceback.format_exc()))
            else:
                pipe.send(("ok", result))


def _child(url: str, pipe: Connection) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    try:
        asyncio.run(_serve(url, pipe))
    except Exception:  # pylint: disable=broad-exception-caught  # the start failed: say so
        pipe.send(("error", traceback.format_exc()))


class SizeServer:
    """One size's app in a child process: `ask` sends it a command and waits for its answer."""

    def __init__(self, url: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, theirs = context.Pipe()
        self.process = context.Process(target=_child, args=(url, theirs), daemon=True)
        self.process.start()
        theirs.close()
        self._answer()

    def _answer(self) -> Any:
        if not self.pipe.poll(600):
            raise TimeoutError("the size's process did not answer in 10 minutes")
        status, result = self.pipe.recv()
        if status == "error":
            raise RuntimeError(f"the size's process failed:\n{result}")
        return result

    def ask(self, *command: Any) -> Any:
        self.pipe.send(command)
        return self._answer()

    def stop(self) -> None:
        with contextlib.suppress(OSError, EOFError, RuntimeError, TimeoutError):
            self.ask("stop")
        self.process.join(30)
        if self.process.is_alive():
            self.process.kill()


def interleaved(
    servers: dict[int, SizeServer], command: Callable[[int], tuple[Any, ...]], repeat: int
) -> dict[int, float]:
    """Each size's median over `repeat` timings of `command(size)`, the sizes taking turns
    one timing at a time, in an order that reverses every turn, after one untimed warm-up
    each (the first after a start fills caches)."""
    sizes = list(servers)
    for size in sizes:
        servers[size].ask(*command(size))
    times: dict[int, list[float]] = {size: [] for size in sizes}
    for turn in range(repeat):
        order: Iterable[int] = sizes if turn % 2 == 0 else reversed(sizes)
        for size in order:
            times[size].append(servers[size].ask(*command(size)))
    return {size: statistics.median(found) for size, found in times.items()}
