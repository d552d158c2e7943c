"""What counts as a credential in text the service shows or stores: the audit trail's
queries (app/audit/recorder.py) and the settings `run.py check` prints.

One rule instead of a list that grows by a name per incident: a parameter name is split
into words (at punctuation and at lower-to-upper case changes: `user_pw`, `newPin`,
`mfa-otp`), and it is secret when a word starts or ends with a credential stem (`pw`,
`pin`, `otp`, `pass`, `key`, …: `pwd`, `userpw`, `pincode`, `totp`, `apikey`) or holds a
stem of four letters or more anywhere (`mypassword`, `accesstoken`). Redacting a harmless
value (`spin`, `pinned`) costs a little detail; showing a secret cannot be undone.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import unquote_plus

MASK = "***"
CREDENTIAL_STEMS = (
    # passwords and PINs
    "pass",
    "pw",
    "pin",
    "cvv",
    "cvc",
    # one-time and second-factor codes
    "otp",
    "code",
    "tan",
    "mfa",
    "2fa",
    # keys, tokens, signatures, sessions
    "secret",
    "token",
    "key",
    "sig",
    "auth",
    "cred",
    "session",
    "cookie",
    "jwt",
    "refresh",
    "nonce",
)
_LONG_STEMS = tuple(stem for stem in CREDENTIAL_STEMS if len(stem) >= 4)
_CASE_CHANGE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD = re.compile(r"[a-z0-9]+")


def words(name: str) -> list[str]:
    """The words of a parameter name, lower case."""
    return _WORD.findall(_CASE_CHANGE.sub(" ", unquote_plus(name)).lower())


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a parameter called `name` carries a credential (the rule above). Remembered:
    the audit trail asks it of every query parameter of every request, and a service's
    names are few (a bounded cache, so made-up names only push each other out)."""
    for word in words(name):
        # A plural is the same credential (`apikeys`, `pins`).
        for form in (word, word.removesuffix("s")):
            if any(form.startswith(stem) or form.endswith(stem) for stem in CREDENTIAL_STEMS):
                return True
            if any(stem in form for stem in _LONG_STEMS):
                return True
    return False


_QUERY_PAIR = re.compile(r"(?P<name>[^&;=?#\s]+)=(?P<value>[^&;#\s]*)")


def mask_url(text: str) -> str:
    """`text` (a URL or anything holding URLs) with every credential masked: the password
    before the host (one with `@`, `:` or `/` in it too: the host starts after the last
    `@` before the query) and the values of secret-named query parameters (`?password=…`,
    `&sslkey=…`)."""
    return re.sub(r"[A-Za-z][A-Za-z0-9+.-]*://\S*", lambda m: _mask_one(m.group()), text)


def _mask_one(url: str) -> str:
    scheme, _, rest = url.partition("://")
    cut = len(rest)
    for mark in ("?", "#"):
        index = rest.find(mark)
        if index != -1:
            cut = min(cut, index)
    authority_and_path, tail = rest[:cut], rest[cut:]
    at = authority_and_path.rfind("@")
    if at != -1:
        userinfo, host = authority_and_path[:at], authority_and_path[at + 1 :]
        user, colon, password = userinfo.partition(":")
        shown = f"{user}:{MASK}" if password else f"{user}{colon}"
        authority_and_path = f"{shown}@{host}"
    tail = _QUERY_PAIR.sub(
        lambda m: f"{m['name']}={MASK}" if m["value"] and is_secret_name(m["name"]) else m[0],
        tail,
    )
    return f"{scheme}://{authority_and_path}{tail}"
