"""How a user's calendar feed URL is answered, on both APIs."""

from __future__ import annotations

from uuid import UUID

from fastapi import Request
from pydantic import BaseModel, Field

from shared.auth.feed_tokens import FeedTokens


class CalendarFeed(BaseModel):
    url: str = Field(description="Секретный адрес ленты (iCalendar); не требует токена")


def feed_tokens(request: Request) -> FeedTokens:
    tokens: FeedTokens = request.app.state.feed_tokens
    return tokens


def feed_answer(request: Request, user_id: UUID, generation: int) -> dict[str, str]:
    token = feed_tokens(request).token(user_id, generation)
    return {"url": f"{request.base_url}api/calendar/{token}.ics"}
