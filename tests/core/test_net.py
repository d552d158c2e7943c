"""client_ip: the peer, or what our trusted proxies say in X-Forwarded-For."""

from __future__ import annotations

from typing import Any

import pytest

from app.http.net import client_ip


def _scope(peer: str | None, *forwarded_for: str) -> dict[str, Any]:
    return {
        "type": "http",
        "client": (peer, 50000) if peer else None,
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded_for],
    }


@pytest.mark.parametrize(
    ("scope", "trusted", "expected"),
    [
        (_scope("203.0.113.9"), ["127.0.0.1"], "203.0.113.9"),
        (_scope("203.0.113.9", "198.51.100.1"), ["127.0.0.1"], "203.0.113.9"),
        (_scope("127.0.0.1", "198.51.100.1"), ["127.0.0.1"], "198.51.100.1"),
        (_scope("127.0.0.1"), ["127.0.0.1"], "127.0.0.1"),
        # Only the hops our proxies appended count: the client may have forged the rest.
        (_scope("127.0.0.1", "6.6.6.6, 198.51.100.1"), ["127.0.0.1"], "198.51.100.1"),
        (_scope("10.0.0.2", "198.51.100.1, 10.0.0.1"), ["10.0.0.0/8"], "198.51.100.1"),
        (_scope("10.0.0.2", "6.6.6.6", "198.51.100.1"), ["10.0.0.0/8"], "198.51.100.1"),
        (_scope("10.0.0.2", "10.0.0.3, 10.0.0.1"), ["10.0.0.0/8"], "10.0.0.3"),
        (_scope("192.0.2.1", "198.51.100.1"), ["*"], "198.51.100.1"),
        (_scope("127.0.0.1", "not-an-ip"), ["127.0.0.1"], "127.0.0.1"),
        (
            _scope("127.0.0.1", "198.51.100.1, garbage, 10.0.0.1"),
            ["127.0.0.1", "10.0.0.1"],
            "10.0.0.1",
        ),
        (_scope("127.0.0.1", " 2001:db8::1 "), ["127.0.0.1"], "2001:db8::1"),
        (_scope("127.0.0.1", "[2001:db8::2]"), ["127.0.0.1"], "2001:db8::2"),
        (_scope("::ffff:127.0.0.1", "198.51.100.1"), ["127.0.0.1"], "198.51.100.1"),
        (_scope("::1", "198.51.100.1"), ["127.0.0.1"], "::1"),
        (_scope("127.0.0.1", "198.51.100.1"), ["not a network"], "127.0.0.1"),
        (_scope("127.0.0.1", "198.51.100.1"), [], "127.0.0.1"),
        (_scope(None, "198.51.100.1"), ["*"], None),
        (_scope("testclient"), ["127.0.0.1"], None),
    ],
)
def test_client_ip(scope: dict[str, Any], trusted: list[str], expected: str | None) -> None:
    assert client_ip(scope, trusted) == expected
