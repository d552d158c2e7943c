"""The published OpenAPI schema says what the service really does, so generated clients work:
short stable operation ids, every error answer declared with the `{"detail": …}` body, and
PATCH bodies that advertise `null` only where the service takes it as "leave unchanged".
"""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.http.openapi import ERROR_MODEL_NAME, errors, operation_id
from app.main import create_app
from settings import Settings
from tests.conftest import TEST_SECRET_KEY
from tests.study.conftest import create_record

ERROR_REF = f"#/components/schemas/{ERROR_MODEL_NAME}"
OPERATION_ID = re.compile(r"^[a-z0-9_]+-[a-z0-9_]+$")


def _schema() -> dict[str, Any]:
    return create_app(Settings(APP_ENV="test", SECRET_KEY=TEST_SECRET_KEY)).openapi()


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def _json_schema(response: dict[str, Any]) -> dict[str, Any]:
    return response.get("content", {}).get("application/json", {}).get("schema", {})


def test_operation_ids_are_short_unique_and_tagged() -> None:
    operations = _operations(_schema())
    ids = [operation["operationId"] for _, _, operation in operations]
    assert len(ids) == len(set(ids))
    for method, path, operation in operations:
        assert OPERATION_ID.match(operation["operationId"]), (method, path)
        assert len(operation["operationId"]) <= 40, (method, path)
    by_route = {(m, p): o["operationId"] for m, p, o in operations}
    # Generated clients name their functions after these: changing one breaks them.
    assert by_route[("GET", "/api/v1/study-records")] == "study_records-list"
    assert by_route[("PATCH", "/api/v1/study-records/{item_id}")] == "study_records-patch"
    assert by_route[("POST", "/api/v1/auth/jwt/login")] == "auth-login"
    assert by_route[("GET", "/api/v1/users/me")] == "users-me"
    assert by_route[("GET", "/api/health/check")] == "health-check"


def test_every_authenticated_operation_declares_401_and_every_error_its_body() -> None:
    schema = _schema()
    authenticated = 0
    for method, path, operation in _operations(schema):
        responses = operation["responses"]
        if operation.get("security"):
            authenticated += 1
            assert "401" in responses, (method, path)
        for code, response in responses.items():
            if code.startswith(("4", "5")) and code != "422" and path != "/api/health/ready":
                assert _json_schema(response) == {"$ref": ERROR_REF}, (method, path, code)
                assert response["description"], (method, path, code)
    assert authenticated >= 15
    detail = schema["components"]["schemas"][ERROR_MODEL_NAME]
    assert detail["required"] == ["detail"]


def test_errors_helper_refuses_an_undescribed_status() -> None:
    with pytest.raises(ValueError, match="418"):
        errors(418)
    assert errors(418, descriptions={418: "Teapot."})[418]["description"] == "Teapot."


def test_operation_id_without_tag_is_the_name() -> None:
    app = FastAPI(generate_unique_id_function=operation_id)

    @app.get("/x", name="Odd Name")
    async def x() -> None:
        return None

    assert app.openapi()["paths"]["/x"]["get"]["operationId"] == "odd_name"


def _fill(path: str) -> str:
    return (
        path.replace("{item_id}", "1")
        .replace("{user_id}", str(uuid.uuid4()))
        .replace("{audit_log_id}", "1")
    )


async def test_each_operation_answers_401_without_token_exactly_when_it_declares_security(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """Every operation is called without credentials (and once with a bad token): an
    operation marked as secured answers 401 with the declared body; one that is not, or
    only optionally (`{}` among its requirements: POST /auth/sms/code needs a token for
    `bind` only), never answers 401 to an empty body."""
    for method, path, operation in _operations(app.openapi()):
        if path == "/api/v1/auth/jwt/refresh":
            continue  # public, but its own token in the body is what it checks (401 declared)
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            response = await client.request(method, _fill(path), headers=headers, json={})
            security = operation.get("security") or []
            if security and {} not in security:
                assert response.status_code == 401, (method, path, response.text)
                assert response.json() == {"detail": "Unauthorized"}
                problem = "malformed" if headers else "missing"
                assert response.headers["www-authenticate"] == (
                    f'Bearer error="invalid_token", error_description="{problem}"'
                )
            else:
                assert response.status_code != 401, (method, path, response.text)


def _patch_body_schema(schema: dict[str, Any], path: str) -> dict[str, Any]:
    body = schema["paths"][path]["patch"]["requestBody"]["content"]["application/json"]
    name = body["schema"]["$ref"].rsplit("/", 1)[-1]
    return schema["components"]["schemas"][name]


def _admits_null(prop: dict[str, Any]) -> bool:
    return prop.get("type") == "null" or any(
        alternative.get("type") == "null" for alternative in prop.get("anyOf", ())
    )


async def test_study_record_patch_neither_advertises_nor_accepts_null(
    client: httpx.AsyncClient, app: FastAPI, user_headers: dict[str, str]
) -> None:
    body_schema = _patch_body_schema(app.openapi(), "/api/v1/study-records/{item_id}")
    record = await create_record(client, user_headers)
    url = f"/api/v1/study-records/{record['id']}"
    for name, prop in body_schema["properties"].items():
        assert not _admits_null(prop), name
        assert "default" not in prop, name
        response = await client.patch(url, json={name: None}, headers=user_headers)
        assert response.status_code == 422, (name, response.text)
        assert response.json()["detail"][0]["loc"] == ["body", name]
    after = await client.get(url, headers=user_headers)
    assert after.json() == record
    # Leaving a field out is how a client keeps it.
    response = await client.patch(url, json={"minutes": 50}, headers=user_headers)
    assert response.status_code == 200
    assert {**record, "minutes": 50, "updated_at": response.json()["updated_at"]} == (
        response.json()
    )


async def test_user_patch_advertises_null_and_takes_it_as_leave_unchanged(
    client: httpx.AsyncClient, app: FastAPI, user_headers: dict[str, str]
) -> None:
    body_schema = _patch_body_schema(app.openapi(), "/api/v1/users/me")
    before = (await client.get("/api/v1/users/me", headers=user_headers)).json()
    for name, prop in body_schema["properties"].items():
        if not _admits_null(prop):
            continue
        response = await client.patch("/api/v1/users/me", json={name: None}, headers=user_headers)
        assert response.status_code == 200, (name, response.text)
        assert response.json() == before, name
    assert {"email", "password", "display_name"} <= set(body_schema["properties"])


DOCS_PATHS = (
    "/docs",
    "/redoc",
    "/docs/oauth2-redirect",
    "/docs/static/swagger-ui-bundle.js",
    "/docs/static/redoc.standalone.js",
    "/openapi.json",
)


@pytest.mark.parametrize(
    ("app_env", "docs_enabled", "served"),
    [
        ("development", None, True),
        ("production", None, False),
        ("production", True, True),
        ("development", False, False),
    ],
)
async def test_docs_pages_and_assets_follow_docs_enabled(
    app_env: str, docs_enabled: bool | None, served: bool
) -> None:
    settings = Settings(
        APP_ENV=app_env,
        # The tests' own key is public, so production refuses it.
        SECRET_KEY=secrets.token_urlsafe(32),
        DOCS_ENABLED=docs_enabled,
        AUDIT_ENABLED=False,
        DATABASE_URL="sqlite://:memory:",
        # Production answers only its own names: the test client's is one here.
        ALLOWED_HOSTS=["testserver"],
        # Production refuses to start without Redis (nothing here connects to it).
        REDIS_URL="redis://127.0.0.1:6379/0",
        MAIL_BACKEND="none",
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for path in DOCS_PATHS:
            response = await client.get(path)
            assert response.status_code == (200 if served else 404), path
            if served and path in {"/docs", "/redoc"}:
                # Everything from this service; the policy keeps out anything else.
                assert "cdn" not in response.text
                assert "/docs/static/" in response.text
                policy = response.headers["content-security-policy"]
                assert "default-src 'self'" in policy


# Published operation ids: generated clients name their functions after them, so the tag
# renames of this version (`users` → `Users`, `audit_logs` → `Audit log`) changed none.
PUBLISHED_IDS = {
    "health-check", "health-ready",
    "study_records-list", "study_records-create", "study_records-stats", "study_records-cursor",
    "study_records-export", "study_records-create_export_job", "study_records-list_export_jobs",
    "study_records-get_export_job", "study_records-download_export_job", "study_records-get",
    "study_records-replace", "study_records-delete", "study_records-patch",
    "users-count", "users-me", "users-delete_me", "users-patch_me", "users-bind_phone",
    "users-unbind_phone", "users-list", "users-get", "users-patch", "users-delete",
    "auth-register", "auth-login", "auth-refresh", "auth-logout", "auth-sms_code",
    "auth-sms_login", "auth-forgot_password", "auth-reset_password",
    "auth-request_verify_token", "auth-verify",
    "audit_logs-list", "audit_logs-list_by_cursor", "audit_logs-get",
}  # fmt: skip
TAGS = {"Study records", "Users", "Auth", "Audit log", "Health"}
# A summary: a capitalised verb, then lower-case words (acronyms such as SMS allowed).
SUMMARY = re.compile(r"^[A-Z][a-z]+( ([a-z]+|[A-Z]{2,}))*$")


def _walk(node: Any, path: tuple[str, ...] = ()) -> Any:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, str(index)))


def test_tags_summaries_and_ids_read_as_one_api() -> None:
    schema = _schema()
    operations = _operations(schema)
    assert {op["operationId"] for _, _, op in operations} == PUBLISHED_IDS
    for method, path, operation in operations:
        assert len(operation["tags"]) == 1, (path, operation)
        assert operation["tags"][0] in TAGS, (path, operation)
        summary = operation["summary"]
        assert SUMMARY.match(summary), (method, path, summary)
        assert not {"One", "All"} & set(summary.split()), (method, path, summary)
    summaries = [op["summary"] for _, _, op in operations]
    assert len(set(summaries)) == len(summaries)
    by_id = {op["operationId"]: op for _, _, op in operations}
    assert by_id["study_records-list"]["summary"] == "List study records"


def test_generated_names_need_no_renaming() -> None:
    """Enum members get names, and no field or parameter is named after a built-in, but for
    the export job's `format` and `bytes`, whose names the public contract fixes."""
    schema = _schema()
    builtins = {"format", "bytes"}
    contract = {"ExportJobCreate", "ExportJobRead", "/api/v1/study-records/export"}
    for where, node in _walk(schema):
        # An enum whose values are not names gets member names for generated code.
        values = node.get("enum")
        if isinstance(values, list) and not all(
            isinstance(v, str) and v[:1].isalpha() for v in values
        ):
            names = node.get("x-enum-varnames")
            assert isinstance(names, list), (where, node)
            assert len(names) == len(values), (where, node)
        properties = node.get("properties")
        if isinstance(properties, dict) and not any(name in str(where) for name in contract):
            assert not builtins & set(properties), (where, sorted(properties))
    for _, path, operation in _operations(schema):
        names = {p["name"] for p in operation.get("parameters", ())}
        if path not in contract:
            assert not builtins & names, (path, names)


def test_bodies_and_answers_are_typed() -> None:
    schema = _schema()
    components = schema["components"]["schemas"]
    by_id = {op["operationId"]: op for _, _, op in _operations(schema)}
    job = components["ExportJobRead"]["properties"]
    assert set(job["status"]["enum"]) == {"queued", "running", "done", "failed"}
    assert set(job["format"]["enum"]) == {"csv", "jsonl"}
    assert set(components["UserCreate"]["properties"]) == {"email", "password", "display_name"}
    login = by_id["auth-login"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert login["schema"]["$ref"] == "#/components/schemas/PasswordLoginForm"
    for operation_id_ in ("study_records-export", "study_records-download_export_job"):
        content = by_id[operation_id_]["responses"]["200"]["content"]
        assert set(content) == {"text/csv", "application/x-ndjson"}
        for media_type, media in content.items():
            assert media["schema"] == {"type": "string", "contentMediaType": media_type}
        headers = by_id[operation_id_]["responses"]["200"]["headers"]
        assert "Content-Disposition" in headers
    ready = by_id["health-ready"]["responses"]
    for status in ("200", "503"):
        assert _json_schema(ready[status])["$ref"] == "#/components/schemas/Readiness"
    checks = components["Readiness"]["properties"]["checks"]
    assert checks["$ref"] == "#/components/schemas/ReadinessChecks"
    assert set(components["ReadinessChecks"]["properties"]) == {"database", "redis"}
