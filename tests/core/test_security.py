"""Access tokens: verified once per process, yet never accepted past their expiry or under
another secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app.platform import security

SECRET = "a-test-secret-of-plenty-of-characters-0123456789"


@pytest.fixture(autouse=True)
def _no_verified_tokens() -> None:
    security._VERIFIED.clear()  # pylint: disable=protected-access  # the cache under test


def _token(lifetime_seconds: int = 60) -> str:
    return security.encode_access_token(
        subject="user", session_id="session", secret=SECRET, lifetime_seconds=lifetime_seconds
    )


def test_a_verified_token_is_not_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    token = _token()
    first = security.decode_access_token(token, secret=SECRET)
    assert first is not None
    assert first.subject == "user"

    def no_second_check(*args: object, **kwargs: object) -> None:
        raise AssertionError("verified again")

    monkeypatch.setattr(jwt, "decode", no_second_check)
    assert security.decode_access_token(token, secret=SECRET) == first


def test_a_cached_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token = _token(lifetime_seconds=60)
    claims = security.decode_access_token(token, secret=SECRET)
    assert claims is not None

    class Later(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            del tz
            return claims.expires_at + timedelta(seconds=1)

    monkeypatch.setattr(security, "datetime", Later)
    assert security.decode_access_token(token, secret=SECRET) is None
    assert not security._VERIFIED  # pylint: disable=protected-access  # dropped, not kept


def test_a_cached_token_is_refused_under_another_secret() -> None:
    token = _token()
    assert security.decode_access_token(token, secret=SECRET) is not None
    assert security.decode_access_token(token, secret=SECRET + "-rotated") is None


def test_a_token_that_fails_is_never_cached() -> None:
    token = _token()
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert security.decode_access_token(tampered, secret=SECRET) is None
    expired = jwt.encode(
        {
            "sub": "user",
            "sid": "session",
            "jti": "x",
            "aud": security.ACCESS_TOKEN_AUDIENCE,
            "iat": datetime.now(UTC) - timedelta(hours=2),
            "exp": datetime.now(UTC) - timedelta(hours=1),
        },
        SECRET,
        algorithm=security.JWT_ALGORITHM,
    )
    assert security.decode_access_token(expired, secret=SECRET) is None
    assert not security._VERIFIED  # pylint: disable=protected-access


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "VERIFIED_TOKENS_MAX", 3)
    tokens = [_token() for _ in range(5)]
    for token in tokens:
        assert security.decode_access_token(token, secret=SECRET) is not None
    cache = security._VERIFIED  # pylint: disable=protected-access
    assert len(cache) == 3
    assert [key[1] for key in cache] == tokens[2:]  # the oldest went first
