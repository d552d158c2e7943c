"""Logs are JSON lines in production and text in development, each with the request id."""

import json
import logging
import sys

from app.platform.context import request_id_var
from app.platform.logging import TEXT_FORMAT, JsonFormatter, RequestIdFilter


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("app.test", logging.INFO, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_line_carries_request_id_and_extras() -> None:
    token = request_id_var.set("req-7")
    try:
        record = _record("hello %s", user_id="u-1")
        record.args = ("world",)
        RequestIdFilter().filter(record)
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["message"] == "hello world"
    assert entry["request_id"] == "req-7"
    assert entry["user_id"] == "u-1"
    assert entry["level"] == "INFO"
    assert entry["time"].endswith("+00:00")


def test_json_line_holds_no_terminal_colour_codes() -> None:
    # What uvicorn logs at start-up: the message, and a coloured copy of it as an extra.
    record = _record(
        "Started server process [%d] \x1b[1mbold\x1b[0m",
        color_message="Started server process [\x1b[36m%d\x1b[0m]",
        status="\x1b[32m200 OK\x1b[0m",
    )
    record.args = (42,)
    line = JsonFormatter().format(record)
    assert "\\u001b" not in line
    assert "\x1b" not in line
    entry = json.loads(line)
    assert entry["message"] == "Started server process [42] bold"
    assert "color_message" not in entry
    assert entry["status"] == "200 OK"


def test_json_line_holds_the_exception() -> None:
    exc_info = None
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("app.test", logging.ERROR, __file__, 1, "failed", None, exc_info)
    RequestIdFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] == "-"
    assert "ValueError: boom" in entry["exception"]


def test_text_format_shows_request_id() -> None:
    record = _record("plain")
    RequestIdFilter().filter(record)
    line = logging.Formatter(TEXT_FORMAT).format(record)
    assert "[-] plain" in line
