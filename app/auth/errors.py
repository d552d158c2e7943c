"""Who may not call (answered by app/http/errors.py)."""

from __future__ import annotations

from app.platform.errors import DomainError

# Why a bearer token was refused: the `error_description` of every 401 (RFC 6750, section
# 3), one word a client can branch on.
TOKEN_PROBLEMS = ("missing", "malformed", "expired", "revoked")


def bearer_challenge(problem: str) -> str:
    """The WWW-Authenticate value of a 401: the invalid_token error and why."""
    return f'Bearer error="invalid_token", error_description="{problem}"'


class Unauthorized(DomainError):
    """No valid, unrevoked access token of an active user; `problem` is one of
    TOKEN_PROBLEMS."""

    status_code = 401
    detail = "Unauthorized"

    def __init__(self, problem: str = "missing") -> None:
        super().__init__(headers={"WWW-Authenticate": bearer_challenge(problem)})


class Forbidden(DomainError):
    """A superuser's route, called by another user."""

    status_code = 403
    detail = "Forbidden"
