"""Does an answer's timing tell whether an account exists? (issue 24, item 6)

    .venv/bin/python bench/account_oracle.py [--requests 200]

Uses the database and settings of the environment (point DATABASE_URL at a migrated
database; with CELERY_BROKER_URL the jobs are published to the broker, as in production;
without it they run in process after the answer), with the rate limits and SMS caps off.
It makes one account (unverified, with a phone), then asks, alternating, for a
verification mail, a reset mail and an SMS login code for it and for an unknown email or
phone, and times each request until its answer's last byte (not the work after the
answer). It prints the median time of each kind and how often a threshold halfway
between the medians tells them apart: 50 % is a coin toss, 100 % an oracle.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from typing import Any

from asgi_lifespan import LifespanManager

from app.auth.models import User
from app.main import create_app
from app.users import passwords
from settings import load_settings

KNOWN_PHONE = "+8613800138000"
UNKNOWN_PHONE = "+8613900139000"
OVERRIDES = {
    "RATE_LIMIT_VERIFY_PER_IP": 0,
    "RATE_LIMIT_VERIFY_PER_EMAIL": 0,
    "RATE_LIMIT_FORGOT_PASSWORD_PER_IP": 0,
    "RATE_LIMIT_FORGOT_PASSWORD_PER_EMAIL": 0,
    "RATE_LIMIT_SMS_PER_IP": 0,
    "SMS_RESEND_SECONDS": 0,
    "SMS_DAILY_LIMIT_PER_PHONE": 1000,
    "SMS_MAX_PER_HOUR": 0,
    "SMS_BACKEND": "log",
    "LOG_LEVEL": "ERROR",
    "AUDIT_ENABLED": "false",
}


async def answer_seconds(app: Any, path: str, body: dict[str, Any]) -> tuple[int, float]:
    """The status and the time until the answer's last byte left the app."""
    raw = json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"localhost"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    status = 0
    answered = 0.0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, answered
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            answered = time.perf_counter()

    started = time.perf_counter()
    await app(scope, receive, send)
    return status, answered - started


def separability(known: list[float], unknown: list[float]) -> float:
    """How often a threshold halfway between the medians classifies a request right."""
    threshold = (statistics.median(known) + statistics.median(unknown)) / 2
    slower_is_known = statistics.median(known) > statistics.median(unknown)
    right = sum((t > threshold) == slower_is_known for t in known)
    right += sum((t <= threshold) == slower_is_known for t in unknown)
    return right / (len(known) + len(unknown))


async def main(requests: int) -> None:
    app = create_app(load_settings(**OVERRIDES))
    async with LifespanManager(app):
        email = f"oracle-{uuid.uuid4().hex[:8]}@example.com"
        await User.filter(phone=KNOWN_PHONE).update(phone=None)
        await User.create(
            email=email,
            hashed_password=passwords.PASSWORD_HELPER.hash("bench-password-123"),
            phone=KNOWN_PHONE,
        )
        cases = {
            "request-verify-token": (
                "/api/v1/auth/request-verify-token",
                {"email": email},
                {"email": "nobody-oracle@example.com"},
            ),
            "forgot-password": (
                "/api/v1/auth/forgot-password",
                {"email": email},
                {"email": "nobody-oracle@example.com"},
            ),
            "sms login code": (
                "/api/v1/auth/sms/code",
                {"phone": KNOWN_PHONE, "purpose": "login"},
                {"phone": UNKNOWN_PHONE, "purpose": "login"},
            ),
        }
        for name, (path, known_body, unknown_body) in cases.items():
            times: dict[str, list[float]] = {"known": [], "unknown": []}
            statuses = set()
            for _ in range(requests):
                for kind, body in (("known", known_body), ("unknown", unknown_body)):
                    status, seconds = await answer_seconds(app, path, body)
                    statuses.add((kind, status))
                    times[kind].append(seconds)
                await asyncio.sleep(0)  # the work after each answer runs too
            print(
                f"{name:22s} known {statistics.median(times['known']) * 1000:6.2f} ms, "
                f"unknown {statistics.median(times['unknown']) * 1000:6.2f} ms, "
                f"told apart {separability(times['known'], times['unknown']):.0%} "
                f"(statuses {sorted(statuses)})"
            )
        await User.filter(email=email).delete()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    asyncio.run(main(parser.parse_args().requests))
