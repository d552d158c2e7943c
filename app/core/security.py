"""Token primitives: signed access tokens (JWT, HS256) and opaque secrets stored as hashes."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

JWT_ALGORITHM = "HS256"
ACCESS_TOKEN_AUDIENCE = "fastapi-users:auth"  # noqa: S105  (a JWT audience, not a secret)
OPAQUE_TOKEN_BYTES = 32


@dataclass(frozen=True)
class AccessClaims:
    """What a valid access token says: whose it is, which login, which token, until when."""

    subject: str
    session_id: str
    jti: str
    expires_at: datetime


def encode_access_token(
    *, subject: str, session_id: str, secret: str, lifetime_seconds: int
) -> str:
    now = datetime.now(UTC)
    payload = {
        "sub": subject,
        "sid": session_id,
        "jti": uuid.uuid4().hex,
        "aud": ACCESS_TOKEN_AUDIENCE,
        "iat": now,
        "exp": now + timedelta(seconds=lifetime_seconds),
    }
    return jwt.encode(payload, secret, algorithm=JWT_ALGORITHM)


def decode_access_token(token: str, *, secret: str) -> AccessClaims | None:
    """The claims of a well-formed, correctly signed, unexpired access token; else None."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            audience=ACCESS_TOKEN_AUDIENCE,
            options={"require": ["sub", "sid", "jti", "exp", "iat"]},
        )
    except jwt.PyJWTError:
        return None
    subject, session_id, jti = payload["sub"], payload["sid"], payload["jti"]
    if not all(isinstance(v, str) and 0 < len(v) <= 64 for v in (subject, session_id, jti)):
        return None
    return AccessClaims(
        subject=subject,
        session_id=session_id,
        jti=jti,
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
    )


def new_opaque_token() -> str:
    """A random, URL-safe secret (256 bits)."""
    return secrets.token_urlsafe(OPAQUE_TOKEN_BYTES)


def hash_token(token: str) -> str:
    """SHA-256 hex: enough for a random 256-bit secret, and the lookup key in the database."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
