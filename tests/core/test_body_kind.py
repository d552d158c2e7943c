"""The text guard's reading of a content type: the common spellings it reads without
parsing are read as the parse reads them (app/http/guards.py `_body_kind`)."""

from __future__ import annotations

import pytest

from app.http import guards

_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-8",
    "Application/JSON",
    "application/problem+json",
    "multipart/form-data; boundary=x",
    "text/plain",
    "",
]


def _kind(content_type: str) -> str | None:
    return guards._body_kind({"headers": [(b"content-type", content_type.encode())]})  # pylint: disable=protected-access  # the rule under test


def test_the_shortcut_reads_as_the_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    shortcut = [_kind(content_type) for content_type in _TYPES]
    monkeypatch.setattr(guards, "_PLAIN_KINDS", {})
    assert shortcut == [_kind(content_type) for content_type in _TYPES]
    assert shortcut[:2] == ["json", "form"]
