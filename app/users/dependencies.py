"""Dependencies of the account routes: rate limits per client IP and per email, and the
user a superuser route names."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request, status
from fastapi_users import exceptions

from app.core import ratelimit
from app.core.net import client_ip
from app.core.state import SettingsDep, StoreDep
from app.core.store import KeyValueStore
from app.users.adapter import normalize_email
from app.users.manager import UserManagerDep
from app.users.models import User
from settings import Settings

Action = Literal["login", "register", "forgot_password", "verify"]


class AccountRateLimiter:
    """Counts an attempt at one of the limited account actions, or answers 429."""

    def __init__(self, *, store: KeyValueStore, settings: Settings, ip: str | None) -> None:
        self.store = store
        self.settings = settings
        self.ip = ip or "unknown"

    def _limits(self, action: Action) -> tuple[ratelimit.Limit, ratelimit.Limit]:
        s = self.settings
        per_ip, per_email = {
            "login": (s.RATE_LIMIT_LOGIN_PER_IP, s.RATE_LIMIT_LOGIN_PER_EMAIL),
            "register": (s.RATE_LIMIT_REGISTER_PER_IP, s.RATE_LIMIT_REGISTER_PER_EMAIL),
            "forgot_password": (
                s.RATE_LIMIT_FORGOT_PASSWORD_PER_IP,
                s.RATE_LIMIT_FORGOT_PASSWORD_PER_EMAIL,
            ),
            "verify": (s.RATE_LIMIT_VERIFY_PER_IP, s.RATE_LIMIT_VERIFY_PER_EMAIL),
        }[action]
        window = s.RATE_LIMIT_WINDOW_SECONDS
        return ratelimit.Limit(per_ip, window), ratelimit.Limit(per_email, window)

    async def hit(self, action: Action, *, email: str) -> None:
        per_ip, per_email = self._limits(action)
        await ratelimit.hit(self.store, bucket=f"{action}:ip", key=self.ip, limit=per_ip)
        await ratelimit.hit(
            self.store,
            bucket=f"{action}:email",
            key=ratelimit.hashed(normalize_email(email)),
            limit=per_email,
        )


async def get_account_rate_limiter(
    request: Request, settings: SettingsDep, store: StoreDep
) -> AccountRateLimiter:
    return AccountRateLimiter(
        store=store, settings=settings, ip=client_ip(request.scope, settings.TRUSTED_PROXIES)
    )


AccountRateLimiterDep = Annotated[AccountRateLimiter, Depends(get_account_rate_limiter)]


async def get_user_or_404(user_id: uuid.UUID, user_manager: UserManagerDep) -> User:
    """The user named in the path; 404 when there is none."""
    try:
        return await user_manager.get(user_id)
    except exceptions.UserNotExists as exc:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Not Found") from exc


UserByIdDep = Annotated[User, Depends(get_user_or_404)]
