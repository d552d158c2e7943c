"""The API documentation pages, Swagger UI at /docs and ReDoc at /redoc, served with their
scripts and styles from this service, so they work on a machine without internet.

FastAPI's own pages load both from a CDN (a blank page offline). The assets come from the
`fastapi-offline` package, which ships Swagger UI and ReDoc builds and is updated with
them; only its files are used, mounted under /docs/static.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
STATIC_URL = "/docs/static"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"

ASSETS_DIR = files("fastapi_offline") / "static"

# Swagger UI would otherwise ask validator.swagger.io about the schema.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None, "persistAuthorization": False}

# The pages may load nothing from elsewhere: ReDoc's sidebar shows a logo from
# cdn.redoc.ly (no option turns it off); the browser blocks it unsent, and the link text
# stays. Inline script and style: FastAPI's pages start the UIs with an inline script, and
# both UIs style elements inline; ReDoc runs its search in a blob: worker.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _page(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def add_docs(app: FastAPI, *, openapi_url: str) -> None:
    """Adds /docs, /redoc and their assets to `app` (call only when the docs are on)."""
    app.mount(STATIC_URL, StaticFiles(directory=str(ASSETS_DIR)), name="docs-static")

    def urls(request: Request) -> tuple[str, Callable[[str], str]]:
        """The schema's URL and a function naming an asset's, under the app's root path."""
        root = request.scope.get("root_path", "")
        return f"{root}{openapi_url}", lambda name: f"{root}{STATIC_URL}/{name}"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        schema, asset = urls(request)
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=schema,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=asset("swagger-ui-bundle.js"),
            swagger_css_url=asset("swagger-ui.css"),
            swagger_favicon_url=asset("favicon.png"),
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )
        return _page(page)

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _page(get_swagger_ui_oauth2_redirect_html())

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        schema, asset = urls(request)
        page = get_redoc_html(
            openapi_url=schema,
            title=f"{app.title} - ReDoc",
            redoc_js_url=asset("redoc.standalone.js"),
            redoc_favicon_url=asset("favicon.png"),
            with_google_fonts=False,
        )
        return _page(page)
