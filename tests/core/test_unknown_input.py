"""One rule for unknown input: a query parameter an operation does not declare, and a body
field its model does not declare, are a 422 `extra_forbidden` naming them, on every
operation of the schema (not silently ignored). The docs pages keep their own query."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import PASSWORD, unique_email

# A value for each path parameter, so every operation's path can be asked.
_PATH_VALUES = {
    "item_id": "1",
    "user_id": str(uuid.UUID(int=1)),
    "job_id": str(uuid.UUID(int=2)),
    "audit_log_id": "1",
}


def _operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    schema = app.openapi()
    found = []
    for path, item in schema["paths"].items():
        concrete = re.sub(r"\{(\w+)\}", lambda m: _PATH_VALUES[m.group(1)], path)
        for method, operation in item.items():
            found.append((method.upper(), concrete, operation))
    return found


def _extra_forbidden(response: httpx.Response, loc: list[Any]) -> dict[str, Any]:
    assert response.status_code == 422, (response.status_code, response.text)
    problems = response.json()["detail"]
    matching = [p for p in problems if p["loc"] == loc]
    assert matching, problems
    assert matching[0]["type"] == "extra_forbidden"
    return dict(matching[0])


async def test_every_operation_refuses_an_unknown_query_parameter(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    operations = _operations(app)
    assert len(operations) > 30
    for method, path, _ in operations:
        response = await client.request(method, path, params={"sort": "minutes"})
        problem = _extra_forbidden(response, ["query", "sort"])
        assert problem["input"] == "minutes"
        assert problem["msg"] == "Extra inputs are not permitted"


async def test_declared_parameters_still_pass_and_each_unknown_is_named(
    client: httpx.AsyncClient, user_headers: dict[str, str], superuser_headers: dict[str, str]
) -> None:
    ok = await client.get(
        "/api/v1/study-records",
        params={"page": 1, "size": 5, "order_by": "minutes", "subject": "", "q": "x"},
        headers=user_headers,
    )
    assert ok.status_code == 200, ok.text
    # The audit list's filters are a query model: its fields are declared parameters.
    audit = await client.get(
        "/api/v1/audit-logs",
        params={"method": "GET", "path_prefix": "/api", "size": 1},
        headers=superuser_headers,
    )
    assert audit.status_code == 200, audit.text

    response = await client.get(
        "/api/v1/study-records?limit=5&size=5&sort=minutes&limit=6", headers=user_headers
    )
    assert response.status_code == 422
    assert [p["loc"] for p in response.json()["detail"]] == [
        ["query", "limit"],
        ["query", "sort"],
    ]


async def test_record_create_refuses_id_and_owner_id(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    body = {"subject": "Math", "title": "Sets", "minutes": 30}
    for key, value in (("id", 99), ("owner_id", str(uuid.uuid4())), ("created_at", "2020-01-01")):
        response = await client.post(
            "/api/v1/study-records", json={**body, key: value}, headers=user_headers
        )
        assert _extra_forbidden(response, ["body", key])["input"] == value
    created = await client.post("/api/v1/study-records", json=body, headers=user_headers)
    assert created.status_code == 201
    record_id = created.json()["id"]
    for method in ("PUT", "PATCH"):
        response = await client.request(
            method,
            f"/api/v1/study-records/{record_id}",
            json={**body, "owner_id": str(uuid.uuid4())},
            headers=user_headers,
        )
        _extra_forbidden(response, ["body", "owner_id"])


async def test_account_bodies_refuse_flags_and_unknown_fields(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    register = await client.post(
        "/api/v1/auth/register",
        json={"email": unique_email(), "password": PASSWORD, "is_superuser": True},
    )
    _extra_forbidden(register, ["body", "is_superuser"])
    me = await client.patch(
        "/api/v1/users/me", json={"display_name": "x", "is_verified": True}, headers=user_headers
    )
    _extra_forbidden(me, ["body", "is_verified"])
    login = await client.post(
        "/api/v1/auth/jwt/login",
        data={"username": unique_email(), "password": PASSWORD, "remember": "1"},
    )
    _extra_forbidden(login, ["body", "remember"])
    # OAuth2's own optional fields are declared.
    email = unique_email()
    assert (
        await client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    ).status_code == 201
    login = await client.post(
        "/api/v1/auth/jwt/login",
        data={
            "grant_type": "password",
            "username": email,
            "password": PASSWORD,
            "scope": "",
            "client_id": "cli",
            "client_secret": "s",
        },
    )
    assert login.status_code == 200, login.text


@pytest.mark.parametrize("settings_overrides", [{"DOCS_ENABLED": True}])
async def test_every_json_body_in_the_schema_forbids_other_keys(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    schemas = app.openapi()["components"]["schemas"]
    bodies = set()
    for _, _, operation in _operations(app):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            schema = media["schema"]
            # An optional body is `anyOf` its model and null.
            for option in schema.get("anyOf", [schema]):
                if "$ref" in option:
                    bodies.add(option["$ref"].rsplit("/", 1)[1])
    assert {"StudyRecordCreate", "UserCreate", "PasswordLoginForm", "PhoneRemoveRequest"} <= bodies
    for name in bodies:
        assert schemas[name].get("additionalProperties") is False, name
    # The docs pages are no operation of the API: Swagger UI's own query passes.
    assert (await client.get("/docs", params={"urls.primaryName": "x"})).status_code == 200
