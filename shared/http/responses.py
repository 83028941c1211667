"""Answers encoded straight to JSON, for reads whose data the views already shape.

FastAPI validates what an endpoint returns against its response model and then encodes
it; for a listing that is ten items of seventeen fields run through pydantic twice, which
cost a signed-in listing more CPU than its queries (measured with py-spy). A read whose
view returns the API's shape answers with these bytes instead; its `response_model` still
documents it, and tests hold the two to the same shape.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

_ENCODER = msgspec.json.Encoder()


def json_response(content: Any, status_code: int = 200) -> Response:
    """`content` (dicts, lists, UUIDs, datetimes in UTC, numbers) as a JSON answer."""
    return Response(_ENCODER.encode(content), status_code, media_type="application/json")
