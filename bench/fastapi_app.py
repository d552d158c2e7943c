"""FastAPI's own limit for the serving benchmark, beside bare Starlette (bench/bare_app.py).

`/hello` is a constant JSON answer through a FastAPI route; `/rows` is what a FastAPI app
does at least for one page of a user's study records: a header dependency, a pydantic page
model as the response model, and 20 rows plus their count from a plain asyncpg pool on the
service's own `study_record` table. `/create` is a FastAPI create at least: a pydantic
body, one `INSERT … RETURNING` on the pool into `bare_record` (bench/serving.py makes it
like `study_record`, indexes included), the row as the response model. Run by
bench/serving.py under the same gunicorn + uvicorn workers as the service.
"""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Annotated

import asyncpg
from fastapi import Depends, FastAPI, Header, Request
from pydantic import BaseModel

DSN = os.environ["BARE_POSTGRES_DSN"]
OWNER_EMAIL = os.environ.get("BARE_OWNER_EMAIL", "")


class Row(BaseModel):
    """A study record's columns (its own model: this app imports nothing of the service)."""

    created_at: datetime
    id: int
    minutes: int
    notes: str
    owner_id: uuid.UUID
    studied_on: date
    subject: str
    title: str
    updated_at: datetime


class RecordIn(BaseModel):
    subject: str
    title: str
    minutes: int
    studied_on: date
    notes: str = ""


class RowsPage(BaseModel):
    items: list[Row]
    total: int
    page: int
    size: int
    pages: int


async def bearer(authorization: Annotated[str, Header()]) -> str:
    """A header the request must carry (the service verifies a JWT here)."""
    return authorization


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(DSN, min_size=1, max_size=10)
    async with app.state.pool.acquire() as conn:
        app.state.owner_id = await conn.fetchval(
            'SELECT id FROM "user" WHERE email = $1', OWNER_EMAIL
        )
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan, openapi_url=None)


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/rows", response_model=RowsPage)
async def rows(request: Request, _: Annotated[str, Depends(bearer)]) -> RowsPage:
    pool: asyncpg.Pool = request.app.state.pool
    owner = request.app.state.owner_id
    async with pool.acquire() as conn:
        total = await conn.fetchval("SELECT count(*) FROM study_record WHERE owner_id = $1", owner)
        found = await conn.fetch(
            "SELECT id, owner_id, subject, title, minutes, studied_on, notes, created_at, "
            "updated_at FROM study_record WHERE owner_id = $1 "
            "ORDER BY studied_on DESC, id DESC LIMIT 20",
            owner,
        )
    return RowsPage(
        items=[Row(**dict(row)) for row in found],
        total=total,
        page=1,
        size=20,
        pages=-(-total // 20),
    )


@app.post("/create", response_model=Row, status_code=201)
async def create(body: RecordIn, request: Request, _: Annotated[str, Depends(bearer)]) -> Row:
    pool: asyncpg.Pool = request.app.state.pool
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "INSERT INTO bare_record (owner_id, subject, title, minutes, studied_on, notes, "
            "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, now(), now()) "
            "RETURNING id, owner_id, subject, title, minutes, studied_on, notes, created_at, "
            "updated_at",
            request.app.state.owner_id,
            body.subject,
            body.title,
            body.minutes,
            body.studied_on,
            body.notes,
        )
    return Row(**dict(row))
