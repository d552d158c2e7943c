"""What the account routes answer when an account operation fails: fastapi-users' error
codes where it has one (clients already match on them), this service's own otherwise."""

from __future__ import annotations

from fastapi_users.router.common import ErrorCode

from app.auth.errors import bearer_challenge
from app.platform.errors import DomainError, NotFound


class BadCredentials(DomainError):
    """Wrong email or password, or the account is inactive (the answer does not say which)."""

    detail = ErrorCode.LOGIN_BAD_CREDENTIALS


class SessionRefused(DomainError):
    """The refresh token is unknown, spent, expired or revoked."""

    status_code = 401
    detail = "Unauthorized"

    def __init__(self) -> None:
        # Unknown, spent, expired or revoked: a refresh token that cannot be used again.
        super().__init__(headers={"WWW-Authenticate": bearer_challenge("revoked")})


class WrongPassword(DomainError):
    """The `current_password` of a change to one's own account is not the user's."""

    detail = "INVALID_PASSWORD"


class InvalidPassword(DomainError):
    """A new password the policy refuses; `reason` says which rule it broke."""

    def __init__(self, code: ErrorCode, reason: object) -> None:
        super().__init__({"code": code, "reason": reason})


class LoginBadCode(DomainError):
    """The SMS login code is wrong or spent, or no active account has the phone."""

    detail = "LOGIN_BAD_CODE"


class PhoneBadCode(DomainError):
    """The SMS code to bind a phone is wrong or spent."""

    detail = "PHONE_BAD_CODE"


class PhoneTaken(DomainError):
    """Another account has this phone number."""

    detail = "PHONE_ALREADY_USED"


class SmsDisabled(DomainError):
    """SMS_BACKEND is none: no code can be sent, so none checked."""

    status_code = 503
    detail = "SMS_DISABLED"


class SmsCapacityReached(DomainError):
    """SMS_MAX_PER_HOUR codes were asked for this hour, service-wide: 503 until it ends."""

    status_code = 503
    detail = "SMS_BUDGET_EXHAUSTED"

    def __init__(self, retry_after: int) -> None:
        super().__init__(headers={"Retry-After": str(retry_after)})


class UserNotFound(NotFound):
    """No account has the id a superuser route names."""


class Refused(DomainError):
    """An account operation fastapi-users' manager refused, answered with its ErrorCode."""
