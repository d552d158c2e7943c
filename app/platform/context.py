"""Per-request values that logging and the audit trail read without passing them around."""

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
