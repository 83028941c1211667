"""The router every group of read endpoints is declared on, and the errors it documents."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from query_api.deps import fresh_read_of
from shared.http.auth import current_caller, optional_caller
from shared.http.errors import ErrorBody

# What any read may answer besides its result: its token refused (a bad one, or none where
# one is needed), or a wait for its projection that took too long or a database down.
BAD_TOKEN = "Токен недействителен"
NO_TOKEN = "Нет токена или токен недействителен"
READ_FAILED = "Чтение отстаёт или база недоступна"


def read_router(
    prefix: str,
    tag: str,
    *,
    token_required: bool,
    projection: str | None = None,
    not_found: str | None = None,
) -> APIRouter:
    """A router whose routes settle who calls first, so that a refused token is answered 401
    at once, before the read waits for `projection` (if given) or takes a connection; it
    documents a 404 only with `not_found`."""
    caller = current_caller if token_required else optional_caller
    dependencies = [Depends(caller)]
    if projection is not None:
        dependencies.append(Depends(fresh_read_of(projection)))
    errors: dict[int | str, dict[str, Any]] = {
        401: _error(NO_TOKEN if token_required else BAD_TOKEN)
    }
    if not_found is not None:
        errors[404] = _error(not_found)
    errors[503] = _error(READ_FAILED)
    return APIRouter(prefix=prefix, tags=[tag], dependencies=dependencies, responses=errors)


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}
