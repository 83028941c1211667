"""One OpenAPI document for both APIs, and the pages that show it.

The pages load Swagger UI's and ReDoc's scripts from this process (the copies that
`fastapi-offline` ships), not from a CDN: on a network without one they would be blank.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from shared.http.app import API_VERSION

OPENAPI_PATH = "/openapi.json"
ASSETS_PATH = "/docs-assets"
# Nothing but this site: ReDoc's bundle still names a logo on a CDN, which the browser then
# never asks for (the image hides itself when refused). Their pages set themselves up with
# inline scripts and styles, and ReDoc searches in a worker made from a blob.
OWN_SITE_ONLY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
    ]
)
TITLE = "Event Board API"


def merge_openapi(documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Paths and components of every document; the same name defined twice must agree."""
    merged: dict[str, Any] = {
        "openapi": documents[0]["openapi"],
        "info": {"title": TITLE, "version": API_VERSION},
        "paths": {},
        "components": {},
    }
    for document in documents:
        for path, operations in document.get("paths", {}).items():
            served = merged["paths"].setdefault(path, {})
            for method, operation in operations.items():
                if method in served:
                    raise ValueError(f"{method.upper()} {path} is served by two APIs")
                served[method] = operation
        for section, definitions in document.get("components", {}).items():
            known = merged["components"].setdefault(section, {})
            for name, definition in definitions.items():
                if known.setdefault(name, definition) != definition:
                    raise ValueError(f"components/{section}/{name} differs between the APIs")
    return merged


def docs_routes(document: dict[str, Any]) -> list[BaseRoute]:
    async def openapi_json(_request: Request) -> Response:
        return JSONResponse(document)

    async def swagger(_request: Request) -> Response:
        page: HTMLResponse = get_swagger_ui_html(
            openapi_url=OPENAPI_PATH,
            title=f"{TITLE} — Swagger UI",
            oauth2_redirect_url=None,
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )
        page.headers["Content-Security-Policy"] = OWN_SITE_ONLY
        return page

    async def redoc(_request: Request) -> Response:
        page: HTMLResponse = get_redoc_html(
            openapi_url=OPENAPI_PATH,
            title=f"{TITLE} — ReDoc",
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = OWN_SITE_ONLY
        return page

    return [
        Route(OPENAPI_PATH, openapi_json, methods=["GET"]),
        Route("/swagger/", swagger, methods=["GET"]),
        Route("/api/swagger/", swagger, methods=["GET"]),
        Route("/redoc/", redoc, methods=["GET"]),
        Route("/api/redoc/", redoc, methods=["GET"]),
        Mount(ASSETS_PATH, StaticFiles(packages=[("fastapi_offline", "static")])),
    ]
