"""Token primitives: signed access tokens (JWT, HS256), opaque secrets stored as hashes,
keyed digests of short codes, and sealed values for the job queue."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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


# Tokens this process verified lately: (secret, token) -> claims. A client sends the same
# access token with every request until it expires, and checking its signature and claims
# again each time was a tenth of an authenticated request's cost. Only verified tokens get
# in, and an entry still answers None once its token has expired.
_VERIFIED: OrderedDict[tuple[str, str], AccessClaims] = OrderedDict()
VERIFIED_TOKENS_MAX = 4096


def decode_access_token(token: str, *, secret: str) -> AccessClaims | None:
    """The claims of a well-formed, correctly signed, unexpired access token; else None."""
    cached = _VERIFIED.get((secret, token))
    if cached is not None:
        if cached.expires_at <= datetime.now(UTC):
            _VERIFIED.pop((secret, token), None)
            return None
        return cached
    claims = _verify_access_token(token, secret=secret)
    if claims is not None:
        _VERIFIED[(secret, token)] = claims
        if len(_VERIFIED) > VERIFIED_TOKENS_MAX:
            _VERIFIED.popitem(last=False)
    return claims


def _decoded(token: str, *, secret: str, options: dict[str, Any]) -> dict[str, Any] | None:
    """The payload of a token signed with `secret` for the access audience; None otherwise."""
    try:
        return dict(
            jwt.decode(
                token,
                secret,
                algorithms=[JWT_ALGORITHM],
                audience=ACCESS_TOKEN_AUDIENCE,
                options=options,
            )
        )
    except jwt.PyJWTError:
        return None


def access_token_expired(token: str, *, secret: str) -> bool:
    """Whether a refused access token is one of ours whose only fault is its age (a 401 then
    says it expired, rather than that it is malformed)."""
    payload = _decoded(token, secret=secret, options={"verify_exp": False})
    expires = None if payload is None else payload.get("exp")
    return isinstance(expires, int | float) and expires <= datetime.now(UTC).timestamp()


def _verify_access_token(token: str, *, secret: str) -> AccessClaims | None:
    payload = _decoded(
        token, secret=secret, options={"require": ["sub", "sid", "jti", "exp", "iat"]}
    )
    if payload is None:
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


def keyed_digest(secret: str, *parts: str) -> str:
    """HMAC-SHA256 hex of `parts` (joined unambiguously) under `secret`: a short code kept
    this way cannot be read back, or guessed offline, without the key."""
    message = "\x00".join(parts).encode("utf-8", "surrogatepass")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


_NONCE_BYTES = 12


def _seal_key(secret: str, purpose: str) -> bytes:
    # A key of its own per purpose, derived from the one secret: never the signing key itself.
    return hmac.new(secret.encode("utf-8"), f"seal:{purpose}".encode(), hashlib.sha256).digest()


def seal(value: str, *, secret: str, purpose: str) -> str:
    """`value` encrypted and authenticated (AES-256-GCM) for `purpose`, as URL-safe text:
    what may travel through a broker and a worker's log without showing `value`."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(_seal_key(secret, purpose)).encrypt(
        nonce, value.encode("utf-8"), purpose.encode()
    )
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


class SealBroken(ValueError):
    """Not sealed with this secret for this purpose, or altered."""


def unseal(sealed: str, *, secret: str, purpose: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
        opened = AESGCM(_seal_key(secret, purpose)).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], purpose.encode()
        )
    except (InvalidTag, binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise SealBroken(purpose) from exc
    return opened.decode("utf-8")
