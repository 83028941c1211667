"""The staff admin in real headless Chromium against the running stack: staff sign in, find
an event by search and cancel it, deactivate a user; a non-staff user is refused; Swagger UI
works with no network beyond loopback. Screenshots of the main pages go to
test-artifacts/screenshots/."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
from playwright.sync_api import Page, expect

from admin.auth import NOT_STAFF
from tests.e2e.browser import screenshot
from tests.e2e.conftest import BrowserPage, StaffUser

pytestmark = pytest.mark.e2e

PASSWORD = "s3cret-pw"
# A projector joins its consumer group after a rebalance, later on a loaded machine.
PATIENCE_SECONDS = 90.0


def eventually(check: Callable[[], Any], what: str, seconds: float = PATIENCE_SECONDS) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.2)
    return found


def account(api: httpx.Client, prefix: str) -> tuple[str, dict[str, str]]:
    """A new user's id and bearer header."""
    username = f"{prefix}-{uuid4().hex[:8]}"
    registered = api.post("/api/users/register/", json={"username": username, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    tokens = api.post("/api/users/login/", json={"username": username, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    return registered.json()["id"], {"Authorization": f"Bearer {tokens.json()['access']}"}


def sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/admin/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def find_by_search(page: Page, list_path: str, text: str) -> None:
    """Search a list with its search box until the row shows (the read model follows writes)."""

    def shown() -> bool:
        page.goto(list_path)
        page.fill("#search-input", text)
        page.click("#search-button")
        page.wait_for_load_state()
        return page.locator("tbody tr", has_text=text).count() == 1

    eventually(shown, f"{text} in {list_path}")


def test_staff_cancel_an_event_found_by_search_and_participants_are_told(
    browser_page: BrowserPage, api: httpx.Client, staff_user: StaffUser
) -> None:
    page = browser_page.page
    _, organizer = account(api, "organizer")
    _, guest = account(api, "guest")
    title = f"Лекция {uuid4().hex[:6]}"
    created = api.post(
        "/api/events/",
        json={
            "title": title,
            "description": "О событиях и их проекциях",
            "start_time": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            "location": "Новосибирск",
            "timezone": "Asia/Novosibirsk",
            "tags": ["лекции"],
        },
        headers=organizer,
    )
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    assert api.post(f"/api/events/{event_id}/book/", headers=guest).status_code == 201

    sign_in(page, staff_user.username, staff_user.password)
    expect(page).to_have_url(f"{browser_page.base_url}/admin/")
    screenshot(page, "admin-home")
    find_by_search(page, "/admin/events/list", title)
    screenshot(page, "admin-events")
    page.locator("tbody tr", has_text=title).locator("a[href*='/details/']").first.click()
    expect(page.locator("body")).to_contain_text("(Asia/Novosibirsk)")
    screenshot(page, "admin-event-details")
    page.click(f"a[href='/admin/actions/events/{event_id}/cancel']")
    expect(page.get_by_test_id("about")).to_contain_text(title)
    screenshot(page, "admin-confirm-cancel")
    page.get_by_test_id("confirm").click()
    expect(page.locator("body")).to_contain_text("Отменить мероприятие: готово")

    detail = eventually(
        lambda: (
            (r := api.get(f"/api/events/{event_id}/")).json().get("status") == "cancelled"
            and r.json()
        ),
        "the cancellation in the event's detail",
    )
    history = api.get(f"/api/events/{event_id}/history/", headers=organizer).json()
    notified = eventually(
        lambda: [
            n
            for n in api.get("/api/notifications/", headers=guest).json()["results"]
            if n["type"] == "event_cancelled" and n["event_id"] == event_id
        ],
        "the guest's event_cancelled notification",
    )
    assert detail["status_display"] == "Отменено"
    assert (history[-1]["type"], history[-1]["data"]["by_user_id"]) == (
        "event.cancelled",
        staff_user.id,
    )
    assert len(notified) == 1
    assert browser_page.guard.blocked == []


def test_a_user_deactivated_in_the_admin_is_refused_by_the_api_at_once(
    browser_page: BrowserPage, api: httpx.Client, staff_user: StaffUser
) -> None:
    page = browser_page.page
    user_id, bearer = account(api, "member")
    assert api.get("/api/users/me/", headers=bearer).status_code == 200

    sign_in(page, staff_user.username, staff_user.password)
    expect(page).to_have_url(f"{browser_page.base_url}/admin/")
    page.goto(f"/admin/users/details/{user_id}")
    screenshot(page, "admin-user-details")
    page.click(f"a[href='/admin/actions/users/{user_id}/deactivate']")
    page.get_by_test_id("confirm").click()
    expect(page.locator("body")).to_contain_text("Отключить пользователя: готово")

    refused = api.get("/api/users/me/", headers=bearer)
    assert refused.status_code == 401, refused.text


def test_a_user_who_is_not_staff_is_refused(browser_page: BrowserPage, api: httpx.Client) -> None:
    page = browser_page.page
    username = f"plain-{uuid4().hex[:8]}"
    assert (
        api.post(
            "/api/users/register/", json={"username": username, "password": PASSWORD}
        ).status_code
        == 201
    )

    sign_in(page, username, PASSWORD)

    expect(page.locator("body")).to_contain_text(NOT_STAFF)
    screenshot(page, "admin-refused")
    page.goto("/admin/events/list")
    expect(page).to_have_url(f"{browser_page.base_url}/admin/login")


def test_the_lists_and_the_operations_page_render(
    browser_page: BrowserPage, staff_user: StaffUser
) -> None:
    page = browser_page.page
    sign_in(page, staff_user.username, staff_user.password)
    expect(page).to_have_url(f"{browser_page.base_url}/admin/")

    for name in ("users", "bookings", "ratings", "tags", "notifications"):
        page.goto(f"/admin/{name}/list")
        expect(page.locator("table")).to_be_visible()
        screenshot(page, f"admin-{name}")
    page.goto("/admin/operations")
    expect(page.get_by_test_id("projections")).to_contain_text("events")
    screenshot(page, "admin-operations")
    assert browser_page.guard.blocked == []


@pytest.mark.parametrize(("path", "operation"), [("/swagger/", ".opblock"), ("/redoc/", "h2")])
def test_the_api_docs_work_with_no_network_beyond_loopback(
    browser_page: BrowserPage, path: str, operation: str
) -> None:
    page = browser_page.page

    page.goto(path)

    expect(page.locator(operation).first).to_be_visible()
    assert page.locator(operation).count() > 5
    if path == "/swagger/":
        expect(page.locator("body")).to_contain_text("/api/events/")
        screenshot(page, "swagger")
    assert browser_page.guard.blocked == [], browser_page.guard.blocked
