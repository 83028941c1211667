"""Real headless Chromium for the browser tests: Debian's `chromium` (or `BOARD_CHROMIUM`)
driven by Playwright, which never downloads a browser of its own here.

Every request to a host beyond loopback is blocked and recorded, so a page that needs the
internet (a CDN script) shows it, and a test can fail on it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, Route

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    """`BOARD_CHROMIUM`, else `chromium` on PATH."""
    named = os.environ.get("BOARD_CHROMIUM")
    if named:
        return named if Path(named).is_file() else shutil.which(named)
    return shutil.which("chromium")


@dataclass
class OfflineGuard:
    """Lets loopback requests through; blocks and records the others."""

    blocked: list[str] = field(default_factory=list)

    def __call__(self, route: Route) -> None:
        url = route.request.url
        scheme, host = urlsplit(url).scheme, urlsplit(url).hostname
        if scheme in {"data", "blob", "about"} or host in LOOPBACK:
            route.continue_()
            return
        self.blocked.append(url)
        route.abort("internetdisconnected")


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
