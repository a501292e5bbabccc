"""Fixtures of the web front-end's tests: the app served by a real server thread, and
Debian's Chromium driven by Playwright.

Without /usr/bin/chromium the browser tests are skipped, unless
IMFLASK_REQUIRE_BROWSER=1 (CI sets it): then they fail.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The testing app on 127.0.0.1 (a free port), served by werkzeug in a daemon thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run."""
    if not os.access(CHROMIUM, os.X_OK):
        reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("IMFLASK_REQUIRE_BROWSER") == "1":
            pytest.fail(f"IMFLASK_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(f"browser tests need Chromium: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def browser_context(browser, live_server):
    """A fresh browser profile (no cookies) per test; the caller may open more."""
    contexts = []

    def new_context(**options):
        context = browser.new_context(base_url=live_server, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield new_context
    for context in contexts:
        context.close()


@pytest.fixture
def page(browser_context, live_server, request):
    """A page of a fresh browser; its last view is saved to artifacts/web/<test>.png, and
    every request it made must have gone to the app (no CDN, nothing from elsewhere)."""
    page = browser_context(viewport={"width": 1280, "height": 900}).new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    yield page
    save_screenshot(page, request)
    elsewhere = [url for url in requested if not url.startswith((live_server, "data:"))]
    assert not elsewhere, f"the page loaded resources from elsewhere: {elsewhere}"


def save_screenshot(page, request, suffix: str = "") -> Path:
    folder = request.config.rootpath / "artifacts" / "web"
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.name) + suffix
    path = folder / f"{name}.png"
    if not page.is_closed():
        page.screenshot(path=str(path), full_page=True)
    return path


class Conduit:
    """What a person does on the site, in the browser, through the visible forms."""

    def __init__(self, page):
        self.page = page

    def sign_up(self, username: str, email: str, password: str) -> None:
        self.page.goto("/register")
        self.page.get_by_placeholder("Username").fill(username)
        self.page.get_by_placeholder("Email").fill(email)
        self.page.get_by_placeholder("Password").fill(password)
        self.page.get_by_role("button", name="Sign up").click()
        self.expect_signed_in_as(username)

    def sign_in(self, email: str, password: str, username: str) -> None:
        self.page.goto("/login")
        self.page.get_by_placeholder("Email").fill(email)
        self.page.get_by_placeholder("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.expect_signed_in_as(username)

    def sign_out(self) -> None:
        self.page.goto("/settings")
        self.page.get_by_role("button", name="Or click here to logout.").click()
        from playwright.sync_api import expect

        expect(self.page.locator("nav").get_by_role("link", name="Sign in")).to_be_visible()

    def publish(self, *, title: str, description: str, body: str, tags: str = "") -> str:
        """Write an article in the editor; returns its slug (from the page it lands on)."""
        self.page.goto("/")
        self.page.get_by_role("link", name="New Article").click()
        self.fill_editor(title=title, description=description, body=body, tags=tags)
        self.page.get_by_role("button", name="Publish Article").click()
        self.page.wait_for_url(re.compile(r"/article/"))
        return self.page.url.rsplit("/article/", 1)[1]

    def fill_editor(self, **fields: str) -> None:
        placeholders = {
            "title": "Article Title",
            "description": "What's this article about?",
            "body": "Write your article (in markdown)",
            "tags": "Enter tags, separated by commas",
        }
        for name, value in fields.items():
            self.page.get_by_placeholder(placeholders[name]).fill(value)

    def expect_signed_in_as(self, username: str) -> None:
        from playwright.sync_api import expect

        expect(self.page.locator("nav").get_by_role("link", name=username)).to_be_visible()


@pytest.fixture
def conduit(page) -> Conduit:
    return Conduit(page)
