"""The FastAPI application both APIs start from: settings, error shape, documented contract."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import Lifespan

from shared.http.errors import ErrorBody, install_error_handlers
from shared.settings import Settings

API_VERSION = "1.0.0"
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_FRAMEWORK_SCHEMAS = ("HTTPValidationError", "ValidationError")


class ApiApp(FastAPI):
    """A FastAPI app whose OpenAPI document says what it really answers: 400, never 422."""

    def openapi(self) -> dict[str, Any]:
        schema = super().openapi()
        document_validation_errors(schema)
        return schema


def document_validation_errors(schema: dict[str, Any]) -> None:
    """Replace FastAPI's 422 answers by our 400 with the error shape; safe to run twice.

    A 422 a route documents itself (a reused `Idempotency-Key`) stays, and FastAPI then
    adds none of its own: any operation that takes input may answer 400.
    """
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if _is_framework_validation(responses.get("422")):
                del responses["422"]
            if operation.get("parameters") or operation.get("requestBody"):
                responses.setdefault(
                    "400",
                    {
                        "description": "Ошибка валидации",
                        "content": {"application/json": {"schema": _ERROR_REF}},
                    },
                )
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in _FRAMEWORK_SCHEMAS:
        schemas.pop(name, None)
    schemas.setdefault(
        "ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    )


def _is_framework_validation(response: dict[str, Any] | None) -> bool:
    schema = (response or {}).get("content", {}).get("application/json", {}).get("schema", {})
    return str(schema.get("$ref", "")).endswith("/HTTPValidationError")


def create_api_app(settings: Settings, *, title: str, lifespan: Lifespan[Any]) -> FastAPI:
    app = ApiApp(
        title=title,
        version=API_VERSION,
        lifespan=lifespan,
        docs_url="/swagger/",
        redoc_url="/redoc/",
    )
    app.state.settings = settings
    install_error_handlers(app)
    return app
