"""In Chromium: web fonts that come late never move the page, and the size-adjusted local
fallbacks lay the feed out like the web fonts do."""

from __future__ import annotations

import time

import pytest

from imflask_controllers import articles, users

# Layout shifts as Chromium reports them (the CLS metric's own source), summed.
LAYOUT_SHIFT = """() => new Promise(resolve => {
  let total = 0;
  new PerformanceObserver(list => {
    for (const entry of list.getEntries()) if (!entry.hadRecentInput) total += entry.value;
  }).observe({type: "layout-shift", buffered: true});
  setTimeout(() => resolve(total), 300);
})"""
FONTS_IN_USE = """() => [...document.fonts].filter(f => f.status === "loaded")
  .map(f => f.family.replaceAll('"', '') + " " + f.weight)"""
# How wide each piece of text is (its first line), in the logo, titles and descriptions.
TEXT_WIDTHS = """() => [...document.querySelectorAll(
    ".navbar-brand, .preview-link > :is(h1, h2), .preview-link > p, .banner p, .nav-link")]
  .map(el => { const range = document.createRange(); range.selectNodeContents(el);
               return range.getClientRects()[0].width; })"""


@pytest.fixture
def feed(ctx):
    alice = users.register_user(
        ctx, username="alice", email="alice@example.com", password="correct horse", client_ip="t"
    )
    for n in range(10):
        articles.create_article(
            ctx,
            author=alice,
            title=f"How to train your dragon, part {n}",
            description="Ever wonder how? A long description that wraps on a phone, "
            "and more than once when the screen is narrow enough.",
            body="b",
            tags=["dragons", "training"],
        )


def _late_fonts(route) -> None:
    time.sleep(0.5)  # well past font-display's block period (100 ms)
    route.continue_()


@pytest.mark.parametrize("width", [1280, 390])
def test_fonts_that_arrive_late_never_shift_the_page(browser_context, feed, width):
    page = browser_context(viewport={"width": width, "height": 844}).new_page()
    page.route("**/*.woff2", _late_fonts)

    page.goto("/", wait_until="load")
    page.evaluate("document.fonts.ready")

    assert page.locator(".article-preview").count() == 10
    assert page.evaluate(LAYOUT_SHIFT) == 0


def test_the_fallback_faces_set_text_as_wide_as_the_web_fonts(browser_context, feed):
    def measure(block_fonts: bool) -> tuple[list[float], list[str]]:
        page = browser_context(viewport={"width": 1280, "height": 844}).new_page()
        if block_fonts:
            page.route("**/*.woff2", lambda route: route.abort())
        page.goto("/", wait_until="load")
        page.evaluate("document.fonts.ready")
        return page.evaluate(TEXT_WIDTHS), page.evaluate(FONTS_IN_USE)

    with_fonts, loaded = measure(block_fonts=False)
    with_fallbacks, fallbacks = measure(block_fonts=True)

    assert {"Source Sans 3 400", "Source Sans 3 600", "Titillium Web 700"} <= set(loaded)
    assert fallbacks
    assert all(" fallback " in family for family in fallbacks), fallbacks
    # each piece of text within 5% of its width in the web font (a wrong or missing
    # size-adjust is off by 10-25%), so lines wrap alike and nothing moves on a swap
    assert len(with_fallbacks) == len(with_fonts) > 20
    ratios = [round(b / a, 3) for a, b in zip(with_fonts, with_fallbacks, strict=True)]
    assert all(0.95 <= ratio <= 1.05 for ratio in ratios), ratios
