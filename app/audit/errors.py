"""The audit trail's errors (answered by app/http/errors.py)."""

from app.platform.errors import DomainError, NotFound


class AuditLogNotFound(NotFound):
    """No audit entry with this id."""


CURSOR_ROUTE = "/api/v1/audit-logs/cursor"


class PageTooDeep(DomainError):
    """A page past the capped total: the cursor route walks the whole trail."""

    status_code = 422

    def __init__(self, page: int, cap: int) -> None:
        super().__init__(
            [
                {
                    "type": "value_error",
                    "loc": ["query", "page"],
                    "msg": f"pages end at the {cap:,}th entry: walk further with {CURSOR_ROUTE}",
                    "input": page,
                }
            ]
        )
