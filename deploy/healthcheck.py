"""The container's HEALTHCHECK: exit 0 when gunicorn answers `GET /api/health/check` with 200.

Asks the address gunicorn binds (GUNICORN_BIND, as gunicorn.conf.py reads it), with a
wildcard bind asked on loopback. Standard library only, on purpose: it runs every 30 s and
must not pay for importing the app or its settings (nor fail with them: liveness touches
neither the database nor Redis).
"""

import os
import sys
import urllib.request

TIMEOUT_SECONDS = 4
WILDCARDS = {"", "0.0.0.0", "::", "*"}  # noqa: S104  (bound to every address: ask loopback)


def health_url(bind: str) -> str:
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    if host in WILDCARDS:
        host = "127.0.0.1"
    elif ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"http://{host}:{port}/api/health/check"


def main() -> int:
    url = health_url(os.environ.get("GUNICORN_BIND", "0.0.0.0:8000"))
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310  (our own http URL)
            return 0 if answer.status == 200 else 1
    except OSError as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
