"""The recorder remembers texts with nothing to redact, and only those, per field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from unittest.mock import Mock

from app.audit.recorder import AuditRecorder, KnownClean, redact_query, redact_tokens
from app.audit.writer import AuditWriter
from app.http.middleware import Answered

TOKEN = "Xk3vR9mQ2wLp8sZt5yNb1cHd7fGj4aKe0uWo6iPq9rT"


def test_a_clean_text_is_redacted_once_then_remembered() -> None:
    counting = Mock(side_effect=redact_query)
    memo = KnownClean(counting)
    assert [memo("page=2&size=20") for _ in range(3)] == ["page=2&size=20"] * 3
    assert counting.call_count == 1


def test_a_text_with_a_secret_is_redacted_every_time_and_never_kept() -> None:
    counting = Mock(side_effect=redact_query)
    memo = KnownClean(counting)
    for _ in range(3):
        assert memo(f"password=hunter2&next={TOKEN}") == "password=***&next=***"
    assert counting.call_count == 3
    assert not memo._texts  # pylint: disable=protected-access  # what it holds is the point


def test_a_flood_of_distinct_texts_stays_within_the_bound() -> None:
    memo = KnownClean(redact_tokens, size=16, longest=20)
    for n in range(1000):
        assert memo(f"/path/{n}") == f"/path/{n}"
    long_path = "/study" * 7
    assert memo(long_path) == long_path  # too long to keep
    held = memo._texts  # pylint: disable=protected-access  # what it holds is the point
    assert 0 < len(held) <= 16
    assert all(len(text) <= 20 for text in held)


def test_a_text_clean_as_a_user_agent_is_still_redacted_as_a_query() -> None:
    """One memo per rule: `password=hunter2` has nothing to redact as a user agent (read
    first, and remembered), but its value is a secret as a query."""
    writer = AuditWriter(queue_max=10)
    recorder = AuditRecorder(writer=writer)
    answered = Answered("rid", datetime.now(UTC), 404, 1.0, 10)
    for path, query in (("/password=hunter2", b""), ("/x", b"password=hunter2")):
        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "query_string": query,
            "headers": [(b"user-agent", b"password=hunter2")],
            "client": ("127.0.0.1", 5000),
            "state": {"user_id": uuid.uuid4()},
        }
        recorder.record(scope, answered)
    first, second = writer._queue  # pylint: disable=protected-access  # the queued entries
    assert (first["path"], first["query"]) == ("/password=hunter2", "")
    assert (second["path"], second["query"]) == ("/x", "password=***")
    assert second["user_agent"] == "password=hunter2"  # a user agent has no parameter names
