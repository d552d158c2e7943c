"""PagedArgon2Hasher (app/users/argon2_pages.py) against argon2-cffi's own hash and verify,
and the page faults of one verify."""

from __future__ import annotations

import base64
import resource
from pathlib import Path

import pytest
from argon2 import PasswordHasher, Type
from argon2 import low_level as argon2_low_level
from pwdlib.hashers.argon2 import Argon2Hasher

from app.users import argon2_pages
from app.users.argon2_pages import PagedArgon2Hasher
from app.users.passwords import PASSWORD_HELPER

PASSWORDS = ["correct horse", "", "ünïcødé pässwörd", "x" * 300]

# Small costs keep the suite fast; each shape of the encoded form is covered.
PARAMETERS = [
    {"time_cost": 1, "memory_cost": 8, "parallelism": 1},
    {"time_cost": 2, "memory_cost": 64, "parallelism": 2, "hash_len": 16, "salt_len": 8},
    {"time_cost": 3, "memory_cost": 32, "parallelism": 1, "type": Type.I},
    {"time_cost": 1, "memory_cost": 16, "parallelism": 1, "type": Type.D, "hash_len": 64},
]


def _stored_hashes() -> list[str]:
    made = [PasswordHasher(**params).hash(PASSWORDS[0]) for params in PARAMETERS]
    # Argon2 1.0, written with "v=16" and, as its first encoders did, without any "v=".
    legacy = argon2_low_level.hash_secret(
        PASSWORDS[0].encode(), b"saltsaltsalt", 1, 8, 1, 32, Type.I, version=0x10
    ).decode()
    return [*made, legacy, legacy.replace("$v=16$", "$")]


def _malformed(good: str) -> list[str]:
    head, salt, digest = good.rsplit("$", 2)
    flipped = digest[:-1] + ("A" if digest[-1] != "A" else "B")
    # The same bytes in another spelling: a 32-byte digest's last character carries 2 bits
    # of it and 4 unused ones, here set (lenient base64 decoders read the same bytes).
    assert len(base64.b64decode(digest + "=")) == 32
    respelled = digest[:-1] + chr(ord(digest[-1]) + (1 if digest[-1] not in "Zz9+/" else -1))
    assert base64.b64decode(respelled + "=") == base64.b64decode(digest + "=")
    return [
        "",
        "$argon2id$",
        good[:-5],
        f"{head}${salt}${flipped}",
        f"{head}${salt}${digest}=",
        f"{head}${salt}!${digest}",
        f"{head}$${digest}",
        f"{head}${salt}${digest}$",
        good.replace("$argon2id$", "$argon2x$"),
        good.replace("m=8,", "m=1,"),
        good.replace("p=1", "p=0"),
        good.replace("t=1", "t=0"),
        good.replace("m=8,", "m=99999999999999999999,"),
        good.replace("$v=19$", "$v=7$"),
        f"{head}${salt}${respelled}",
        good + "\n",
    ]


def test_a_hash_is_argon2_cffis_for_the_same_salt() -> None:
    for params in PARAMETERS[:2]:
        theirs = PasswordHasher(**params)
        ours = PagedArgon2Hasher(
            time_cost=params["time_cost"],
            memory_cost=params["memory_cost"],
            parallelism=params["parallelism"],
        )
        ours.hash_len, ours.salt_len = theirs.hash_len, theirs.salt_len
        for password in PASSWORDS:
            salt = b"sixteen byte slt"[: theirs.salt_len]
            assert ours.hash(password, salt=salt) == theirs.hash(password, salt=salt)
            made = ours.hash(password)
            assert made != ours.hash(password)  # a salt of its own each time
            assert theirs.verify(made, password)


def test_verify_answers_as_argon2_cffi_does() -> None:
    ours = PagedArgon2Hasher(time_cost=1, memory_cost=8, parallelism=1)
    theirs = Argon2Hasher()
    good = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORDS[0])
    hashes = [*_stored_hashes(), *_malformed(good)]
    answers = []
    for stored in hashes:
        for password in [*PASSWORDS, PASSWORDS[0].encode(), PASSWORDS[0].upper()]:
            expected = theirs.verify(password, stored) if stored else False
            assert ours.verify(password, stored) is expected, (stored, password)
            answers.append(expected)
        assert ours.verify(PASSWORDS[0], stored.encode()) is theirs.verify(PASSWORDS[0], stored)
    # Both answers occur: the stored hashes match their password, the rest match nothing.
    assert answers.count(True) == len(_stored_hashes()) * 2
    assert False in answers
    assert not argon2_pages._MAPPINGS  # pylint: disable=protected-access  # every block freed


def test_one_verify_at_the_services_cost_faults_in_huge_pages() -> None:
    """The service's 19 MiB block is mapped per hash: in 4 KiB pages that is 4,864 faults
    on every verify; in huge pages a few hundred. Where the kernel has transparent huge
    pages at all (`madvise` or `always`)."""
    mode = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if not mode.exists() or "[never]" in mode.read_text(encoding="ascii"):
        pytest.skip("no transparent huge pages here")
    hashed = PASSWORD_HELPER.hash(PASSWORDS[0])
    assert PASSWORD_HELPER.verify_and_update(PASSWORDS[0], hashed)[0]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        assert PASSWORD_HELPER.verify_and_update(PASSWORDS[0], hashed)[0]
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 3
    assert faults < 19 * 1024 * 1024 // 4096 // 4, faults
    assert not argon2_pages._MAPPINGS  # pylint: disable=protected-access  # unmapped again
