"""Liveness and readiness, as load balancers and supervisors ask for them."""

import asyncio
import logging
from typing import Literal

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.http.routing import GatedRouter, plain_route
from app.http.state import SettingsDep, StoreDep
from app.platform.db import ping_database

logger = logging.getLogger(__name__)
router = GatedRouter(prefix="/api/health", tags=["Health"])

READY_TIMEOUT_SECONDS = 2.0


_ALIVE = b'{"status":"ok"}'


CheckState = Literal["ok", "disabled", "unavailable"]


class ReadinessChecks(BaseModel):
    """Each dependency the service needs to answer: `disabled` when not configured."""

    database: CheckState
    redis: CheckState


class Readiness(BaseModel):
    """The readiness answer, 200 and 503 alike: only what a load balancer needs (the audit
    queue's depth and drops are in /metrics, for operators)."""

    status: Literal["ok", "unavailable"]
    checks: ReadinessChecks


class Liveness(BaseModel):
    """The liveness answer: always `ok` while the process answers."""

    status: Literal["ok"]


@router.get(
    "/check",
    name="check",
    summary="Check liveness",
    response_class=JSONResponse,
    response_model=Liveness,
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def check(request: Request) -> Response:
    """Liveness: the process answers; touches no database (and encodes nothing)."""
    return await alive(request)


async def alive(_request: Request) -> Response:
    return Response(_ALIVE, media_type="application/json")


# What answers the liveness check: the route above documents it, this one serves it without
# FastAPI's per-request work (app/main.py puts it first), a third of the check's time.
liveness = plain_route(f"{router.prefix}/check", alive)


@router.get(
    "/ready",
    name="ready",
    summary="Check readiness",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency does not answer."}},
)
async def ready(settings: SettingsDep, store: StoreDep) -> JSONResponse:
    """Readiness: the database (and Redis, when configured) answer within 2 s."""

    async def database() -> str:
        try:
            await ping_database(READY_TIMEOUT_SECONDS)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            logger.warning("readiness: database check failed: %r", exc)
            return "unavailable"
        return "ok"

    async def redis() -> str:
        if not settings.REDIS_URL:
            return "disabled"
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                await store.ping()
        except Exception as exc:  # pylint: disable=broad-exception-caught
            logger.warning("readiness: redis check failed: %r", exc)
            return "unavailable"
        return "ok"

    db_state, redis_state = await asyncio.gather(database(), redis())
    checks = ReadinessChecks.model_validate({"database": db_state, "redis": redis_state})
    healthy = {checks.database, checks.redis} <= {"ok", "disabled"}
    answer = Readiness(status="ok" if healthy else "unavailable", checks=checks)
    return JSONResponse(answer.model_dump(), status_code=200 if healthy else 503)
