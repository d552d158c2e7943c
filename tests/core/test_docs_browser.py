"""/docs and /redoc in a real headless Chromium against a real server, with nothing fetched
from outside the machine.

Chromium (Debian's `chromium`, installed by .ci/run) is driven over the DevTools protocol
(tests/fixtures/browser.py): each page is opened, its scripts run until the operations are
on screen, and every operation of the served schema must be in the DOM. The page's
requests are read from the protocol's network log: all of them must go to the service
itself. Besides, everything that is not loopback goes to a recording proxy that forwards
nothing, so nothing leaves the machine even where it is online. A page that does load
from a CDN is shown to be caught, so the check can fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from settings import BASE_DIR
from tests.conftest import TEST_SECRET_KEY
from tests.fixtures.browser import DevTools, chromium, visit
from tests.fixtures.servers import free_port, server_process, uvicorn_command, wait_until_up

pytestmark = pytest.mark.slow


class RecordingProxy:
    """An HTTP proxy that forwards nothing: it notes the first line of each request
    (`GET http://…` or `CONNECT host:443`) and answers 502."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = int(self._sock.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    first_line = conn.recv(4096).split(b"\r\n", 1)[0]
                    self.requests.append(first_line.decode("latin-1"))
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._sock.close()


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("docs")
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": f"sqlite://{tmp / 'docs.db'}",
        "REDIS_URL": "",
        "SECRET_KEY": TEST_SECRET_KEY,
        "DOCS_ENABLED": "true",
        "LOG_FORMAT": "text",
    }
    subprocess.run(
        [sys.executable, "run.py", "db", "upgrade"], cwd=BASE_DIR, env=env, check=True, timeout=60
    )
    log = tmp / "server.log"
    with server_process(uvicorn_command(port), env, log) as server:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_up(base_url, server, log)
        yield base_url, log


@pytest.fixture(scope="module")
def proxy() -> Iterator[RecordingProxy]:
    recorder = RecordingProxy()
    yield recorder
    recorder.close()


@pytest.fixture(scope="module")
def browser(proxy: RecordingProxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    # Loopback never goes through a proxy; everything else reaches only the recorder.
    flags = (f"--proxy-server=http://127.0.0.1:{proxy.port}",)
    with chromium(tmp_path_factory.mktemp("profile"), flags) as tools:
        yield tools


def _operation_ids(base_url: str) -> list[str]:
    schema = httpx.get(f"{base_url}/openapi.json", timeout=10).json()
    ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]
    assert len(ids) > 20
    return ids


def _off_machine(requests: list[str], base_url: str) -> list[str]:
    return [url for url in requests if not url.startswith((f"{base_url}/", "data:", "blob:"))]


def test_swagger_ui_renders_every_operation_offline(
    browser: DevTools, docs_server: tuple[str, Path]
) -> None:
    base_url, _ = docs_server
    ids = _operation_ids(base_url)
    page = visit(
        browser,
        f"{base_url}/docs",
        ready=f"document.querySelectorAll('.opblock').length >= {len(ids)}",
    )
    # Swagger UI gives each rendered operation the id "operations-{tag}-{operationId}".
    missing = [i for i in ids if f'-{i}"' not in page.dom]
    assert not missing, f"operations not rendered by Swagger UI: {missing}"
    assert f"{base_url}/docs/static/swagger-ui-bundle.js" in page.requests
    assert f"{base_url}/openapi.json" in page.requests
    assert f"{base_url}/docs/static/swagger-ui.css" in page.requests
    assert _off_machine(page.requests, base_url) == []


def test_redoc_renders_every_operation_offline(
    browser: DevTools, docs_server: tuple[str, Path]
) -> None:
    base_url, _ = docs_server
    ids = _operation_ids(base_url)
    selector = '[data-section-id^="operation/"]'
    page = visit(
        browser,
        f"{base_url}/redoc",
        ready=f"document.querySelectorAll('{selector}').length >= {len(ids)}",
    )
    missing = [i for i in ids if f'data-section-id="operation/{i}"' not in page.dom]
    assert not missing, f"operations not rendered by ReDoc: {missing}"
    assert f"{base_url}/docs/static/redoc.standalone.js" in page.requests
    assert _off_machine(page.requests, base_url) == []
    # ReDoc's sidebar logo (cdn.redoc.ly) is refused by the page's Content-Security-Policy
    # before it is sent.
    assert _off_machine(page.blocked, base_url) in (
        [],
        ["https://cdn.redoc.ly/redoc/logo-mini.svg"],
    )


def test_a_page_that_loads_from_a_cdn_is_caught(
    browser: DevTools, proxy: RecordingProxy, tmp_path: Path
) -> None:
    cdn = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"
    page_file = tmp_path / "cdn.html"
    page_file.write_text(f'<html><head><script src="{cdn}"></script></head><body></body></html>')
    page = visit(browser, page_file.as_uri(), ready="document.readyState === 'complete'")
    assert cdn in page.requests
    # ... and it reached only the recorder, which forwarded nothing.
    assert "CONNECT cdn.jsdelivr.net:443 HTTP/1.1" in proxy.requests
