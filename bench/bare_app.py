"""The limit of this machine for the serving benchmark: bare Starlette (+ asyncpg).

`/hello` is the cheapest JSON answer; `/page` does the database work of one page of a
user's study records (a count and 20 rows) with a plain asyncpg pool, nothing else.
Run by bench/serving.py under the same gunicorn + uvicorn workers as the service.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DSN = os.environ["BARE_POSTGRES_DSN"]
OWNER_EMAIL = os.environ.get("BARE_OWNER_EMAIL", "")


def _json(data: object) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


async def hello(_: Request) -> Response:
    return _json({"status": "ok"})


async def page(request: Request) -> Response:
    pool: asyncpg.Pool = request.app.state.pool
    owner = request.app.state.owner_id
    async with pool.acquire() as conn:
        total = await conn.fetchval("SELECT count(*) FROM study_record WHERE owner_id = $1", owner)
        rows = await conn.fetch(
            "SELECT id, owner_id, subject, title, minutes, studied_on, notes, created_at, "
            "updated_at FROM study_record WHERE owner_id = $1 "
            "ORDER BY studied_on DESC, id DESC LIMIT 20",
            owner,
        )
    items = [
        {**dict(row), "owner_id": str(row["owner_id"]), "studied_on": row["studied_on"].isoformat()}
        for row in rows
    ]
    return _json({"items": items, "total": total, "page": 1, "size": 20, "pages": -(-total // 20)})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(DSN, min_size=1, max_size=10)
    async with app.state.pool.acquire() as conn:
        app.state.owner_id = await conn.fetchval(
            'SELECT id FROM "user" WHERE email = $1', OWNER_EMAIL
        )
    yield
    await app.state.pool.close()


app = Starlette(routes=[Route("/hello", hello), Route("/page", page)], lifespan=lifespan)
