"""Logging: one JSON object per line in production, readable text in development.

Every record carries the id of the request it was logged in (or "-" outside a request).
"""

import logging
import logging.config
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from app.platform.context import request_id_var

# Attributes every LogRecord has; anything else was passed through `extra=` and is kept,
# except uvicorn's `color_message` (the message again, with terminal colour codes).
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "color_message"}
)
# Terminal control sequences (colours, cursor moves): no place in a log file or collector.
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def _plain(value: Any) -> Any:
    return _ANSI_ESCAPE.sub("", value) if isinstance(value, str) else value


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get() or "-"
        return True


class ClosedSocketNoise(logging.Filter):
    """Drops gunicorn's INFO line when a stopping worker closes a listening socket that
    uvicorn has closed already (EBADF): nothing went wrong, and it said so at every stop."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.msg == "Error while closing socket %s"
            and "Bad file descriptor" in record.getMessage()
        )


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON, with its extras and any exception as text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _plain(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = _plain(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"


def logging_config(level: str, fmt: str, stream: str = "ext://sys.stderr") -> dict[str, Any]:
    """A dictConfig for the app, uvicorn and gunicorn loggers alike, writing to `stream`."""
    formatter: dict[str, Any] = {"()": JsonFormatter} if fmt == "json" else {"format": TEXT_FORMAT}
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "filters": ["request_id"],
        "stream": stream,
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": RequestIdFilter},
            "closed_socket": {"()": ClosedSocketNoise},
        },
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            # uvicorn's own handlers would print every line twice.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            # Access lines duplicate the audit trail; keep them at warning and above.
            "uvicorn.access": {"handlers": [], "propagate": True, "level": "WARNING"},
            "gunicorn.error": {"handlers": [], "propagate": True, "filters": ["closed_socket"]},
            "gunicorn.access": {"handlers": [], "propagate": True},
            "tortoise": {"level": "WARNING"},
            "aiosqlite": {"level": "WARNING"},
        },
    }


def configure_logging(level: str, fmt: str, stream: str = "ext://sys.stderr") -> None:
    logging.config.dictConfig(logging_config(level, fmt, stream))
