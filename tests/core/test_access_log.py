"""ACCESS_LOG: one line per request (logger app.access) with the route template, status,
time, size and request id; off by default, and never the path or query."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

ACCESS = "app.access"


@pytest.mark.parametrize("settings_overrides", [{"ACCESS_LOG": True}])
async def test_each_request_is_one_access_line(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS)
    secret = "abcdefghijklmnopqrstuvwxyz0123456789"
    await client.get("/api/health/check", headers={"X-Request-ID": "access-1"})
    await client.get("/api/v1/study-records/42")
    await client.get("/api/v1/study-records", params={"q": secret})
    lines = [r for r in caplog.records if r.name == ACCESS]
    assert len(lines) == 3
    first: Any = lines[0]
    assert (first.method, first.route, first.status) == ("GET", "/api/health/check", 200)
    assert first.request_id == "access-1"
    assert first.duration_ms >= 0
    assert first.response_bytes > 0
    second: Any = lines[1]
    assert second.status == 401
    assert second.route == "/api/v1/study-records/{item_id}"
    assert "/42" not in second.getMessage()
    third: Any = lines[2]
    assert (third.route, third.status) == ("/api/v1/study-records", 401)
    for line in lines:  # neither the path's values nor the query reach the access log
        assert secret not in str(vars(line))


async def test_no_access_lines_by_default(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS)
    await client.get("/api/health/check")
    assert [r for r in caplog.records if r.name == ACCESS] == []
