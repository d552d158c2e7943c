"""The audit trail's errors (answered by app/http/errors.py)."""

from app.platform.errors import NotFound


class AuditLogNotFound(NotFound):
    """No audit entry with this id."""
