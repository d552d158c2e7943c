"""Who may not call (answered by app/http/errors.py)."""

from __future__ import annotations

from app.platform.errors import DomainError


class Unauthorized(DomainError):
    """No valid, unrevoked access token of an active user."""

    status_code = 401
    detail = "Unauthorized"

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": "Bearer"})


class Forbidden(DomainError):
    """A superuser's route, called by another user."""

    status_code = 403
    detail = "Forbidden"
