"""/users: me, deregistration, count, and superuser management (API.md, Accounts)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from app.audit.models import AuditLog
from app.auth.models import AuthSession, User
from app.http.routing import route_template
from app.study.models import StudyRecord
from app.users.schemas import UserCount
from tests.conftest import PASSWORD, unique_email
from tests.users.conftest import USER_FIELDS, bearer, login_tokens, me_status, refresh, register


async def _user_with_tokens(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    email = unique_email()
    await register(client, email)
    return email, await login_tokens(client, email)


async def _make_superuser(client: httpx.AsyncClient) -> dict[str, str]:
    email, tokens = await _user_with_tokens(client)
    await User.filter(email=email).update(is_superuser=True)
    return bearer(tokens)


# --- /users/me ---------------------------------------------------------------------------------


async def test_me_returns_the_current_user(client: httpx.AsyncClient) -> None:
    email, tokens = await _user_with_tokens(client)
    response = await client.get("/api/v1/users/me", headers=bearer(tokens))
    assert response.status_code == 200
    assert set(response.json()) == USER_FIELDS
    assert response.json()["email"] == email


async def test_me_without_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


async def test_patch_me_changes_display_name_and_email(client: httpx.AsyncClient) -> None:
    _, tokens = await _user_with_tokens(client)
    new_email = unique_email("renamed")
    response = await client.patch(
        "/api/v1/users/me",
        headers=bearer(tokens),
        json={"display_name": "Grace", "email": new_email.upper(), "current_password": PASSWORD},
    )
    assert response.status_code == 200
    assert response.json()["display_name"] == "Grace"
    assert response.json()["email"] == new_email
    assert await me_status(client, bearer(tokens)) == 200


async def test_patch_me_can_never_raise_own_flags(client: httpx.AsyncClient) -> None:
    email, tokens = await _user_with_tokens(client)
    response = await client.patch(
        "/api/v1/users/me",
        headers=bearer(tokens),
        json={"is_superuser": True, "is_verified": True, "is_active": True, "display_name": "x"},
    )
    # The flags are no field of this body: refused by name, and nothing changes.
    assert response.status_code == 422
    assert {tuple(p["loc"]) for p in response.json()["detail"]} == {
        ("body", "is_superuser"),
        ("body", "is_verified"),
        ("body", "is_active"),
    }
    stored = await User.get(email=email)
    assert (stored.is_superuser, stored.is_verified, stored.display_name) == (False, False, "")


@pytest.mark.dialects
async def test_patch_me_to_a_taken_email_is_400(client: httpx.AsyncClient) -> None:
    taken = unique_email("taken")
    await register(client, taken)
    email, tokens = await _user_with_tokens(client)
    response = await client.patch(
        "/api/v1/users/me",
        headers=bearer(tokens),
        json={"email": taken.upper(), "current_password": PASSWORD},
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "UPDATE_USER_EMAIL_ALREADY_EXISTS"}
    assert await User.filter(email=email).exists()


async def test_patch_me_with_invalid_password_is_400(client: httpx.AsyncClient) -> None:
    _, tokens = await _user_with_tokens(client)
    response = await client.patch(
        "/api/v1/users/me",
        headers=bearer(tokens),
        json={"password": "x", "current_password": PASSWORD},
    )
    assert response.status_code == 400
    assert response.json()["detail"]["code"] == "UPDATE_USER_INVALID_PASSWORD"


async def test_patch_me_password_change_ends_the_other_sessions(
    client: httpx.AsyncClient,
) -> None:
    email, tokens = await _user_with_tokens(client)
    other = await login_tokens(client, email)
    response = await client.patch(
        "/api/v1/users/me",
        headers=bearer(tokens),
        json={"password": "changed password", "current_password": PASSWORD},
    )
    assert response.status_code == 200
    assert await me_status(client, bearer(other)) == 401
    assert (await refresh(client, other["refresh_token"])).status_code == 401
    # The session that changed it goes on.
    assert await me_status(client, bearer(tokens)) == 200
    assert (
        await me_status(client, bearer(await login_tokens(client, email, "changed password")))
        == 200
    )


async def test_patch_me_explicit_nulls_change_nothing(client: httpx.AsyncClient) -> None:
    email, tokens = await _user_with_tokens(client)
    response = await client.patch(
        "/api/v1/users/me",
        headers=bearer(tokens),
        json={"email": None, "password": None, "display_name": None},
    )
    assert response.status_code == 200
    assert response.json()["email"] == email
    assert await me_status(client, bearer(tokens)) == 200


# --- deregistration ----------------------------------------------------------------------------


@pytest.mark.dialects
async def test_deregistration_deletes_account_records_and_tokens_and_keeps_audit_rows(
    client: httpx.AsyncClient,
) -> None:
    email, tokens = await _user_with_tokens(client)
    other_email, other_tokens = await _user_with_tokens(client)
    user = await User.get(email=email)
    other = await User.get(email=other_email)
    for owner in (user, other):
        await StudyRecord.create(
            owner=owner, subject="math", title="limits", minutes=30, studied_on=date(2026, 1, 5)
        )
    audit_row = await _audit_row(user.id)
    other_audit_row = await _audit_row(other.id)

    response = await client.request(
        "DELETE", "/api/v1/users/me", headers=bearer(tokens), json={"password": PASSWORD}
    )
    assert response.status_code == 204
    assert not await User.filter(id=user.id).exists()
    assert await StudyRecord.filter(owner_id=user.id).count() == 0
    assert await AuthSession.filter(user_id=user.id).count() == 0
    assert (await AuditLog.get(id=audit_row.id)).user_id is None
    assert await me_status(client, bearer(tokens)) == 401
    assert (await refresh(client, tokens["refresh_token"])).status_code == 401
    # Nobody else is touched.
    assert await StudyRecord.filter(owner_id=other.id).count() == 1
    assert (await AuditLog.get(id=other_audit_row.id)).user_id == other.id
    assert await me_status(client, bearer(other_tokens)) == 200
    # The email is free again.
    assert (await register(client, email)).status_code == 201


async def test_deregistration_with_wrong_password_is_400_and_deletes_nothing(
    client: httpx.AsyncClient,
) -> None:
    email, tokens = await _user_with_tokens(client)
    response = await client.request(
        "DELETE", "/api/v1/users/me", headers=bearer(tokens), json={"password": "not my password"}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "INVALID_PASSWORD"}
    assert await User.filter(email=email).exists()
    assert await me_status(client, bearer(tokens)) == 200


@pytest.mark.parametrize("body", [None, {}, {"password": ""}, {"password": 12345678}])
async def test_deregistration_without_a_password_is_422(
    client: httpx.AsyncClient, body: dict[str, Any] | None
) -> None:
    email, tokens = await _user_with_tokens(client)
    response = await client.request("DELETE", "/api/v1/users/me", headers=bearer(tokens), json=body)
    assert response.status_code == 422
    assert await User.filter(email=email).exists()


async def test_deregistration_without_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.request("DELETE", "/api/v1/users/me", json={"password": PASSWORD})
    assert response.status_code == 401


async def _audit_row(user_id: uuid.UUID) -> AuditLog:
    return await AuditLog.create(
        created_at=datetime.now(UTC),
        request_id="test",
        method="GET",
        path="/api/v1/users/me",
        status_code=200,
        duration_ms=1.0,
        user_id=user_id,
    )


# --- count -------------------------------------------------------------------------------------


async def test_count_is_public_and_counts_accounts(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/users/count")).json() == {"count": 0}
    await register(client, unique_email())
    _, tokens = await _user_with_tokens(client)
    assert (await client.get("/api/v1/users/count")).json() == {"count": 2}
    await client.request(
        "DELETE", "/api/v1/users/me", headers=bearer(tokens), json={"password": PASSWORD}
    )
    response = await client.get("/api/v1/users/count")
    assert response.status_code == 200
    assert response.json() == {"count": 1}


async def test_count_is_served_by_starlette_alone_as_fastapi_would_answer_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The count's documented FastAPI route stays for the schema; a plain route in front of
    it serves it with the same bytes, the same 405s and 422s and the same route template."""
    served = app.router.routes[1]
    assert getattr(served, "path", None) == "/api/v1/users/count"
    await register(client, unique_email())
    ok = await client.get("/api/v1/users/count")
    assert ok.content == JSONResponse(UserCount(count=1).model_dump()).body
    assert ok.headers["content-type"] == "application/json"
    head = await client.head("/api/v1/users/count")
    post = await client.post("/api/v1/users/count")
    # The 405 names what the path allows, /users/{user_id}'s methods included, as before.
    assert (head.status_code, head.headers["allow"]) == (405, "GET, PATCH, DELETE")
    assert (post.status_code, post.headers["allow"]) == (405, "GET, PATCH, DELETE")
    unknown = await client.get("/api/v1/users/count?page=2")
    assert unknown.status_code == 422
    assert [p["loc"] for p in unknown.json()["detail"]] == [["query", "page"]]
    assert route_template({"route": served}) == "/api/v1/users/count"


@pytest.mark.dialects
async def test_count_is_cached_in_the_store(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/users/count")).json() == {"count": 0}
    await User.create(email=unique_email(), hashed_password="x")  # behind the service's back
    assert (await client.get("/api/v1/users/count")).json() == {"count": 0}


@pytest.mark.dialects
@pytest.mark.parametrize("settings_overrides", [{"USER_COUNT_CACHE_SECONDS": 0.3}])
async def test_cached_count_is_never_older_than_the_setting(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/users/count")).json() == {"count": 0}
    await User.create(email=unique_email(), hashed_password="x")  # behind the service's back
    assert (await client.get("/api/v1/users/count")).json() == {"count": 0}  # from memory
    await asyncio.sleep(0.35)
    assert (await client.get("/api/v1/users/count")).json() == {"count": 1}


@pytest.mark.parametrize("settings_overrides", [{"USER_COUNT_CACHE_SECONDS": 0}])
async def test_count_without_cache_is_current(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/users/count")).json() == {"count": 0}
    await User.create(email=unique_email(), hashed_password="x")
    assert (await client.get("/api/v1/users/count")).json() == {"count": 1}


# --- superuser management ---------------------------------------------------------------------


async def test_superuser_lists_users_in_pages(client: httpx.AsyncClient) -> None:
    headers = await _make_superuser(client)
    for _ in range(2):
        await register(client, unique_email())
    response = await client.get("/api/v1/users", headers=headers, params={"page": 1, "size": 2})
    assert response.status_code == 200
    page = response.json()
    assert set(page) == {"items", "total", "page", "size", "pages"}
    assert (page["total"], page["page"], page["size"], page["pages"]) == (3, 1, 2, 2)
    assert len(page["items"]) == 2
    assert set(page["items"][0]) == USER_FIELDS
    last = (
        await client.get("/api/v1/users", headers=headers, params={"page": 2, "size": 2})
    ).json()
    assert len(last["items"]) == 1
    all_ids = {u["id"] for u in page["items"]} | {u["id"] for u in last["items"]}
    assert len(all_ids) == 3


@pytest.mark.parametrize("params", [{"size": 0}, {"size": 101}, {"page": 0}, {"page": "x"}])
async def test_user_list_with_bad_paging_is_422(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    headers = await _make_superuser(client)
    assert (await client.get("/api/v1/users", headers=headers, params=params)).status_code == 422


async def test_superuser_routes_are_403_for_users_and_401_without_token(
    client: httpx.AsyncClient,
) -> None:
    _, tokens = await _user_with_tokens(client)
    target = (await register(client, unique_email())).json()["id"]
    calls = [
        ("GET", "/api/v1/users", None),
        ("GET", f"/api/v1/users/{target}", None),
        ("PATCH", f"/api/v1/users/{target}", {"is_superuser": True}),
        ("DELETE", f"/api/v1/users/{target}", None),
        ("GET", "/api/v1/users/not-a-uuid", None),
    ]
    for method, url, body in calls:
        response = await client.request(method, url, headers=bearer(tokens), json=body)
        assert response.status_code == 403, (method, url)
        assert response.json() == {"detail": "Forbidden"}
        assert (await client.request(method, url, json=body)).status_code == 401, (method, url)
    assert not (await User.get(id=target)).is_superuser


async def test_superuser_reads_a_user(client: httpx.AsyncClient) -> None:
    headers = await _make_superuser(client)
    created = (await register(client, unique_email())).json()
    response = await client.get(f"/api/v1/users/{created['id']}", headers=headers)
    assert response.status_code == 200
    assert response.json() == created


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_unknown_user_id_is_404_and_malformed_is_422(
    client: httpx.AsyncClient, method: str
) -> None:
    headers = await _make_superuser(client)
    body = {"display_name": "x"} if method == "PATCH" else None
    unknown = await client.request(
        method, f"/api/v1/users/{uuid.uuid4()}", headers=headers, json=body
    )
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Not Found"}
    for bad in ("not-a-uuid", "1", "%00", "me-too"):
        response = await client.request(method, f"/api/v1/users/{bad}", headers=headers, json=body)
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"] == ["path", "user_id"], bad


async def test_superuser_patch_sets_flags_and_deactivation_ends_tokens(
    client: httpx.AsyncClient,
) -> None:
    headers = await _make_superuser(client)
    email, tokens = await _user_with_tokens(client)
    user_id = (await User.get(email=email)).id
    response = await client.patch(
        f"/api/v1/users/{user_id}",
        headers=headers,
        json={"is_active": False, "is_verified": True, "display_name": "Off"},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["is_active"], body["is_verified"], body["display_name"]) == (False, True, "Off")
    assert await me_status(client, bearer(tokens)) == 401
    assert (await refresh(client, tokens["refresh_token"])).status_code == 401
    # Reactivation does not bring the old tokens back.
    await client.patch(f"/api/v1/users/{user_id}", headers=headers, json={"is_active": True})
    assert await me_status(client, bearer(tokens)) == 401
    assert await me_status(client, bearer(await login_tokens(client, email))) == 200


async def test_superuser_can_grant_superuser(client: httpx.AsyncClient) -> None:
    headers = await _make_superuser(client)
    email, tokens = await _user_with_tokens(client)
    user_id = (await User.get(email=email)).id
    response = await client.patch(
        f"/api/v1/users/{user_id}", headers=headers, json={"is_superuser": True}
    )
    assert response.json()["is_superuser"] is True
    assert (await client.get("/api/v1/users", headers=bearer(tokens))).status_code == 200


@pytest.mark.dialects
async def test_superuser_deletes_a_user_and_its_tokens(client: httpx.AsyncClient) -> None:
    headers = await _make_superuser(client)
    email, tokens = await _user_with_tokens(client)
    user = await User.get(email=email)
    await StudyRecord.create(
        owner=user, subject="art", title="color", minutes=10, studied_on=date(2026, 1, 1)
    )
    audit_row = await _audit_row(user.id)
    response = await client.delete(f"/api/v1/users/{user.id}", headers=headers)
    assert response.status_code == 204
    assert await me_status(client, bearer(tokens)) == 401
    assert await StudyRecord.filter(owner_id=user.id).count() == 0
    assert (await AuditLog.get(id=audit_row.id)).user_id is None
    assert (await client.get(f"/api/v1/users/{user.id}", headers=headers)).status_code == 404


# --- what the audit trail reads ------------------------------------------------------------------


class _StateRecorder:
    """Keeps scope["state"] after each request, as the audit middleware reads it."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.states: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            self.states.append(dict(scope["state"]))


async def test_authenticated_requests_leave_the_user_id_in_request_state(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    email, tokens = await _user_with_tokens(client)
    user_id = (await User.get(email=email)).id
    recorder = _StateRecorder(app)
    transport = httpx.ASGITransport(app=recorder, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        await c.get("/api/v1/users/me", headers=bearer(tokens))
        await c.get("/api/v1/users", headers=bearer(tokens))  # 403: still this user
        await c.get("/api/v1/users/me")
        await c.get("/api/v1/users/count")
        await c.request(
            "DELETE", "/api/v1/users/me", headers=bearer(tokens), json={"password": PASSWORD}
        )
    seen = [state.get("user_id") for state in recorder.states]
    assert seen == [user_id, user_id, None, None, None]
