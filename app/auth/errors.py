"""Who may not call (answered by app/http/errors.py)."""

from __future__ import annotations

from app.platform.errors import DomainError

# Why a bearer token was refused, as `error_description` (RFC 6750, section 3).
TOKEN_PROBLEMS = {
    "expired": "The access token expired",
    "malformed": "The access token is malformed or was not issued by this service",
    "revoked": "The access token was revoked (logout, password change or deactivation)",
}


def bearer_challenge(description: str | None) -> str:
    """The WWW-Authenticate value: `Bearer` alone for a request without credentials (RFC
    6750 says to name no error then), else the invalid_token error and why."""
    if description is None:
        return "Bearer"
    return f'Bearer error="invalid_token", error_description="{description}"'


class Unauthorized(DomainError):
    """No valid, unrevoked access token of an active user; `problem` is a key of
    TOKEN_PROBLEMS, or None when the request had no token."""

    status_code = 401
    detail = "Unauthorized"

    def __init__(self, problem: str | None = None) -> None:
        description = TOKEN_PROBLEMS[problem] if problem else None
        super().__init__(headers={"WWW-Authenticate": bearer_challenge(description)})


class Forbidden(DomainError):
    """A superuser's route, called by another user."""

    status_code = 403
    detail = "Forbidden"
