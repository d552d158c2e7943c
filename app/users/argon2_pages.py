"""Argon2 with its working memory mapped for each hash in huge pages.

argon2-cffi's hash and verify take the block they work in (19 MiB at the service's
parameters) from malloc. gunicorn.conf.py keeps every block over 128 KiB in mmap, handed
back on free, so a login burst does not leave the workers larger; but then every hash
faults its block in afresh, one 4 KiB page at a time, a cost on the order of the hash
itself. Here the block comes from Argon2's own allocation hooks (`allocate_cbk` and
`free_cbk` of its context): a private mapping of its own, advised into transparent huge
pages (2 MiB, a few hundred faults where the kernel's mode is `madvise` or `always`) and
unmapped when the hash ends. Nothing else in the process changes its pages.

The hashes and answers are argon2-cffi's: the same encoded form for the same salt, and a
verify that is false for every hash argon2-cffi would refuse or not match (tests compare
the two over many parameters and malformed hashes). Where the hooks cannot be made (a
platform that forbids cffi callbacks), the library's own calls serve.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import mmap
import os
import re
from typing import Any

from argon2 import Type
from argon2 import low_level as argon2_low_level
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.base import ensure_str, validate_str_or_bytes

_FFI = argon2_low_level.ffi
_LIB = argon2_low_level.lib
_HUGE_PAGE = 2 * 1024 * 1024
_MEMORY_ALLOCATION_ERROR = -22  # ARGON2_MEMORY_ALLOCATION_ERROR
_VERSION_10 = 0x10  # a hash without "v=" is of Argon2 1.0

# The encoded form, as argon2's own decoder reads it: variant, optional version, the three
# costs, then the salt and the digest in unpadded base64.
_ENCODED = re.compile(
    r"\$(argon2id|argon2i|argon2d)\$(?:v=(\d+)\$)?m=(\d+),t=(\d+),p=(\d+)"
    r"\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)"
)
_TYPES = {"argon2id": Type.ID, "argon2i": Type.I, "argon2d": Type.D}

# The mapping behind each block handed to Argon2, by the block's address; closed on free.
_MAPPINGS: dict[int, mmap.mmap] = {}


def _allocate(memory: Any, size: int) -> int:
    region = mmap.mmap(-1, size + _HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    # Without transparent huge pages here, small pages it is.
    with contextlib.suppress(AttributeError, OSError):
        region.madvise(mmap.MADV_HUGEPAGE)
    start = int(_FFI.cast("uintptr_t", _FFI.from_buffer(region)))
    aligned = -(-start // _HUGE_PAGE) * _HUGE_PAGE
    _MAPPINGS[aligned] = region
    memory[0] = _FFI.cast("uint8_t *", aligned)
    return 0


def _free(memory: Any, _size: int) -> None:
    region = _MAPPINGS.pop(int(_FFI.cast("uintptr_t", memory)), None)
    if region is not None:
        region.close()


try:
    _ALLOCATE = _FFI.callback("int(uint8_t **, size_t)", _allocate, error=_MEMORY_ALLOCATION_ERROR)
    _FREE = _FFI.callback("void(uint8_t *, size_t)", _free)
except (MemoryError, RuntimeError):  # callbacks refused (no executable memory for them)
    _ALLOCATE = _FREE = None


class _Refused(Exception):
    """Argon2 refused the inputs (an error code from argon2_ctx)."""


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    """Unpadded base64 as Argon2 writes it; anything else (another encoding of the same
    bytes included) raises ValueError, as Argon2's decoder refuses it."""
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError(text) from exc
    if _b64encode(data) != text:
        raise ValueError(text)
    return data


def _raw_hash(  # pylint: disable=too-many-arguments  # Argon2's own inputs, by name
    password: bytes,
    salt: bytes,
    *,
    variant: Type,
    version: int,
    time_cost: int,
    memory_cost: int,
    parallelism: int,
    length: int,
) -> bytes:
    out = _FFI.new("uint8_t[]", length)
    password_buffer = _FFI.new("uint8_t[]", password)
    salt_buffer = _FFI.new("uint8_t[]", salt)
    context = _FFI.new(
        "argon2_context *",
        {
            "out": out,
            "outlen": length,
            "pwd": password_buffer,
            "pwdlen": len(password),
            "salt": salt_buffer,
            "saltlen": len(salt),
            "secret": _FFI.NULL,
            "secretlen": 0,
            "ad": _FFI.NULL,
            "adlen": 0,
            "t_cost": time_cost,
            "m_cost": memory_cost,
            "lanes": parallelism,
            "threads": parallelism,
            "version": version,
            "allocate_cbk": _ALLOCATE,
            "free_cbk": _FREE,
            "flags": _LIB.ARGON2_DEFAULT_FLAGS,
        },
    )
    if argon2_low_level.core(context, variant.value) != _LIB.ARGON2_OK:
        raise _Refused
    return bytes(_FFI.buffer(out, length))


class PagedArgon2Hasher(Argon2Hasher):
    """pwdlib's Argon2 hasher, hashing and verifying in a block of huge pages of its own."""

    def __init__(self, *, time_cost: int, memory_cost: int, parallelism: int) -> None:
        super().__init__(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
        self.time_cost, self.memory_cost, self.parallelism = time_cost, memory_cost, parallelism
        self.hash_len = self._hasher.hash_len
        self.salt_len = self._hasher.salt_len

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        if _ALLOCATE is None:
            return super().hash(password, salt=salt)
        validate_str_or_bytes(password, "password")
        secret = password.encode() if isinstance(password, str) else password
        salt = os.urandom(self.salt_len) if salt is None else salt
        digest = _raw_hash(
            secret,
            salt,
            variant=Type.ID,
            version=argon2_low_level.ARGON2_VERSION,
            time_cost=self.time_cost,
            memory_cost=self.memory_cost,
            parallelism=self.parallelism,
            length=self.hash_len,
        )
        return (
            f"$argon2id$v={argon2_low_level.ARGON2_VERSION}$m={self.memory_cost},"
            f"t={self.time_cost},p={self.parallelism}${_b64encode(salt)}${_b64encode(digest)}"
        )

    # pwdlib's parameter name, by which it may be passed
    def verify(self, password: str | bytes, hash: str | bytes) -> bool:  # pylint: disable=redefined-builtin
        if _ALLOCATE is None:
            return super().verify(password, hash)
        validate_str_or_bytes(password, "password")
        validate_str_or_bytes(hash, "hash")
        try:
            found = _ENCODED.fullmatch(ensure_str(hash))
            if found is None:
                return False
            variant, version, memory, time, lanes, salt, digest = found.groups()
            expected = _b64decode(digest)
            computed = _raw_hash(
                password.encode() if isinstance(password, str) else password,
                _b64decode(salt),
                variant=_TYPES[variant],
                version=int(version) if version else _VERSION_10,
                time_cost=int(time),
                memory_cost=int(memory),
                parallelism=int(lanes),
                length=len(expected),
            )
        except (ValueError, OverflowError, UnicodeDecodeError, _Refused):
            return False
        return hmac.compare_digest(computed, expected)
