"""ALLOWED_HOSTS: a request naming another host is refused before the app can answer it,
so no redirect can send a client to the host it made up (issue 15, finding 3)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

RECORDS_WITH_SLASH = "/api/v1/study-records/"

# The Host check touches no database: one backend is enough.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # testserver: the test client's own name, for the sign-up in user_headers.
    return {"ALLOWED_HOSTS": "studylog.test,*.studylog.test,testserver"}


@pytest.mark.parametrize("host", ["evil.example", "studylog.test.evil.example", "", "[::1]"])
async def test_a_stranger_host_is_400_without_a_location(
    client: httpx.AsyncClient, user_headers: dict[str, str], host: str
) -> None:
    response = await client.get(RECORDS_WITH_SLASH, headers={**user_headers, "Host": host})
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid host header"}
    assert "location" not in response.headers


@pytest.mark.parametrize(
    "host", ["studylog.test", "STUDYLOG.test:8443", "eu.studylog.test", "a.b.studylog.test:80"]
)
async def test_the_services_names_are_answered_and_redirected_relatively(
    client: httpx.AsyncClient, user_headers: dict[str, str], host: str
) -> None:
    response = await client.get(RECORDS_WITH_SLASH, headers={**user_headers, "Host": host})
    assert response.status_code == 307
    # Relative: the client stays on the host (and scheme) it asked.
    assert response.headers["location"] == "/api/v1/study-records"
