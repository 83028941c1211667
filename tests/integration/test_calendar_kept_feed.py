"""A kept calendar feed: sent again while its version is fresh, never past a rotation."""

from __future__ import annotations

import pytest
from icalendar import Calendar

from board.environment import replace_settings
from shared.settings import Settings
from tests.integration.conftest import BoardApi

pytestmark = pytest.mark.integration


@pytest.fixture
def board_settings(settings: Settings) -> Settings:
    # Far longer than the test: a kept feed is not checked again while it runs.
    return replace_settings(settings, listing_cache_seconds=3600)


async def test_a_kept_feed_is_sent_again_but_a_rotated_url_is_refused_at_once(
    board_api: BoardApi,
) -> None:
    organizer, anna = await board_api.account("organizer"), await board_api.account("anna")
    url = (await board_api.http.get("/api/users/me/calendar/", headers=anna.headers)).json()["url"]
    kept = await board_api.http.get(url)
    event_id = (await board_api.create_event(organizer)).json()["id"]
    booked = await board_api.http.post(f"/api/events/{event_id}/book/", headers=anna.headers)
    await board_api.http.get(
        f"/api/events/{event_id}/calendar.ics",
        headers={"X-Min-Position": booked.headers["X-Event-Position"]},
    )

    again = await board_api.http.get(url)
    rotated = await board_api.http.post("/api/users/me/calendar/rotate/", headers=anna.headers)
    refused = await board_api.http.get(url)
    fresh = await board_api.http.get(rotated.json()["url"])

    assert again.content == kept.content
    assert Calendar.from_ical(kept.content).events == []
    assert refused.status_code == 404
    assert len(Calendar.from_ical(fresh.content).events) == 1
