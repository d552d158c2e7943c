"""`python run.py check` and `python run.py serve`."""

from __future__ import annotations

import asyncio
from typing import Any

import typer
import uvicorn

from app.platform import migrations
from app.platform.db import ping_database
from app.platform.store import create_store
from backend.common import current_settings, fail, mask_url_password, out_console, print_json, run
from settings import Settings

SECRET_FIELDS = ("SECRET_KEY", "SMTP_PASSWORD", "ALIYUN_ACCESS_KEY_SECRET")
TIMEOUT_SECONDS = 3.0


def masked_settings(settings: Settings) -> dict[str, Any]:
    """Settings for display, as in effect (a default that depends on APP_ENV shown resolved):
    secrets and passwords inside URLs replaced by ***."""
    effective = settings.model_dump()
    effective["DOCS_ENABLED"] = settings.docs_enabled
    effective["LOG_FORMAT"] = settings.log_format
    effective["PASSWORD_HASH_THREADS"] = settings.hash_threads
    effective["ALLOWED_HOSTS"] = settings.allowed_hosts
    effective["SMS_BACKEND"] = settings.sms_backend
    effective["MAIL_BACKEND"] = settings.mail_backend
    shown: dict[str, Any] = {}
    for name, value in effective.items():
        if name in SECRET_FIELDS:
            shown[name] = "***" if value else ""
        elif isinstance(value, str):
            shown[name] = mask_url_password(value)
        else:
            shown[name] = value
    return shown


async def _checks(settings: Settings) -> dict[str, str]:
    results: dict[str, str] = {}
    try:
        await ping_database(TIMEOUT_SECONDS)
        results["database"] = "ok"
    except Exception as exc:  # pylint: disable=broad-exception-caught  # reported, not raised
        results["database"] = f"unavailable: {exc!r}"
    if settings.REDIS_URL:
        try:
            # Inside the try: a URL the client cannot read is reported, not a traceback.
            store = create_store(settings.REDIS_URL, prefix=settings.REDIS_KEY_PREFIX)
        except ValueError as exc:
            results["redis"] = f"unavailable: {exc!r}"
            return results
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                await store.ping()
            results["redis"] = "ok"
        except Exception as exc:  # pylint: disable=broad-exception-caught
            results["redis"] = f"unavailable: {exc!r}"
        finally:
            await store.close()
    else:
        results["redis"] = "disabled"
    return results


def check_command(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Settings (secrets masked), database and Redis reachability, pending migrations."""
    settings = current_settings()

    async def work() -> dict[str, str]:
        return await _checks(settings)

    results = run(work)
    if results["database"] == "ok":
        pending = asyncio.run(migrations.pending_migrations(settings.DATABASE_URL))
        results["migrations"] = f"pending: {', '.join(pending)}" if pending else "ok"
    else:
        results["migrations"] = "unknown (no database)"
    # An error's text may quote the URL it failed on.
    results = {name: mask_url_password(value) for name, value in results.items()}
    problems = [k for k, v in results.items() if v not in {"ok", "disabled"}]
    if as_json:
        print_json({"settings": masked_settings(settings), "checks": results, "ok": not problems})
    else:
        for name, value in masked_settings(settings).items():
            out_console.print(f"{name:38} {value}", highlight=False)
        out_console.print()
        for name, value in results.items():
            out_console.print(f"{name:38} {value}", highlight=False)
    if problems:
        fail("problems: " + ", ".join(problems))


def serve_command(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port."),
    reload: bool = typer.Option(True, "--reload/--no-reload", help="Restart on code changes."),
) -> None:
    """Development server (uvicorn) with reload; production uses gunicorn.conf.py."""

    uvicorn.run("asgi:app", host=host, port=port, reload=reload, log_config=None)
