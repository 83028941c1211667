"""How a write is answered: the rendered body, `X-Event-Position`, and `Idempotency-Key`.

A write's answer is rendered once, from what its command returned, into the bytes that
are both sent and, for a keyed write, kept with the write's domain events; a replay sends
those bytes again, so the first answer and its replay are the same.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel

from shared.application.commits import Saved
from shared.application.idempotency import Idempotency, Replayed, StoredResponse
from shared.http.auth import CurrentUser
from shared.http.errors import ErrorBody
from shared.integration.names import POSITION_HEADER

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_PATTERN = r"^[\x20-\x7e]+$"
JSON = "application/json"
# What every write that takes a key may answer for the key's sake, documented on each.
KEYED_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorBody,
        "description": "Одновременное изменение или запрос с этим Idempotency-Key ещё выполняется",
    },
    422: {"model": ErrorBody, "description": "Idempotency-Key уже использован с другим запросом"},
}

R = TypeVar("R")


@dataclass(frozen=True)
class Answer:
    """A write's answer before it is rendered: its status and body (none for 204)."""

    status: int
    body: BaseModel | None = None

    def render(self) -> tuple[int, bytes]:
        return self.status, b"" if self.body is None else self.body.model_dump_json().encode()


@dataclass(frozen=True)
class Key:
    """The request's `Idempotency-Key`, if it sent one, and the request's fingerprint."""

    user_id: UUID
    key: str | None = None
    fingerprint: str = ""

    def rendering(self, answer: Callable[[R], Answer]) -> Idempotency | None:
        """The key for the application, with how to render the answer it keeps."""
        if self.key is None:
            return None
        return Idempotency(
            self.user_id, self.key, self.fingerprint, lambda result: answer(result).render()
        )


async def idempotency_key(
    request: Request,
    caller: CurrentUser,
    key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_HEADER,
            min_length=1,
            max_length=255,
            # Printable ASCII, as the IETF draft's key is: nothing PostgreSQL cannot store.
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="Повтор запроса с тем же ключом в течение 24 ч вернёт первый ответ.",
        ),
    ] = None,
) -> Key:
    if key is None:
        return Key(caller.id)
    request_parts = (request.method.encode(), request.url.path.encode(), await request.body())
    return Key(caller.id, key, hashlib.sha256(b"\n".join(request_parts)).hexdigest())


IdempotencyKey = Annotated[Key, Depends(idempotency_key)]


async def respond(
    submitted: Future[Saved[R]],
    answer: Callable[[R], Answer],
    headers: Callable[[R], Mapping[str, str]] | None = None,
    kept_headers: Callable[[StoredResponse], Mapping[str, str]] | None = None,
) -> Response:
    """Wait for a command handed to the committer (the event loop stays free meanwhile: no
    worker thread waits for each write), then answer with what it saved.

    A keyed write sent again gets its kept answer, with the headers `kept_headers` reads
    from it (a creation's `Location`): only the status, body and position are kept."""
    try:
        saved = await asyncio.wrap_future(submitted)
    except Replayed as replay:
        kept = replay.response
        return _response(kept, kept_headers(kept) if kept_headers is not None else None)
    status, body = answer(saved.aggregate).render()
    extra = headers(saved.aggregate) if headers is not None else None
    return _response(StoredResponse(status, body, saved.position), extra)


async def replayed(_request: Request, error: Exception) -> Response:
    """The exception handler that sends a keyed write's first answer again."""
    assert isinstance(error, Replayed)
    return _response(error.response)


def _response(stored: StoredResponse, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        stored.body,
        stored.status,
        headers={**(headers or {}), POSITION_HEADER: str(stored.position)},
        media_type=JSON if stored.body else None,
    )
