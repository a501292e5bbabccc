"""WCAG 2.2 AA in Chromium: axe-core over every page state at a desktop and a phone width,
one h1 per page, and the layout rules axe cannot see (target sizes, the phone's navbar
and feed order).

axe-core comes from npm (``testkit/axe``, pinned by its package-lock.json); ``.ci/run``
installs it with ``npm ci``. It is added to each page as an init script, which the
pages' Content-Security-Policy does not apply to, so the pages run under their real policy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from imflask_controllers import articles, comments, users

PASSWORD = "correct horse battery"
ARTIFACTS = Path(__file__).parents[4] / "artifacts" / "web" / "accessibility"
AXE = Path(__file__).parents[4] / "testkit" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
# Every WCAG A and AA rule of 2.0, 2.1 and 2.2, and axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}
CODE = "```\n" + "long_line = " + "'wider than a phone' + " * 12 + "''\n```"


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.is_file():
        reason = f"{AXE} is missing: npm ci --prefix testkit/axe"
        if os.environ.get("IMFLASK_REQUIRE_BROWSER") == "1":
            pytest.fail(f"IMFLASK_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(f"accessibility tests need axe-core: {reason}")
    return AXE.read_text()


def register(ctx, username: str):
    user = users.register_user(
        ctx, username=username, email=f"{username}@example.com", password=PASSWORD, client_ip="t"
    )
    return users.user_by_id(ctx, user.id)


@pytest.fixture
def site(ctx) -> dict[str, str]:
    """Alice wrote 12 articles (two pages), one with a wide code block and a comment by
    Bob; Bob follows nobody and favorited it. Returns the slugs by name."""
    alice, bob = register(ctx, "alice"), register(ctx, "bob")
    for number in range(11):
        articles.create_article(
            ctx,
            author=alice,
            title=f"Note {number}",
            description=f"About note {number}",
            body="text",
            tags=[f"tag{number}", "notes"],
        )
    dragons = articles.create_article(
        ctx,
        author=alice,
        title="Dragons",
        description="How to train them",
        body=f"# Dragons\n\nThey are **kind**.\n\n> A quote.\n\n{CODE}\n\n## Food\n\nFish.",
        tags=["dragons", "training"],
    )
    comments.add_comment(ctx, slug=dragons.slug, author=bob, body="Great read")
    comments.add_comment(ctx, slug=dragons.slug, author=alice, body="Thank you")
    articles.favorite_article(ctx, slug=dragons.slug, user=bob)
    return {"dragons": dragons.slug}


def signed_in_page(browser_context, username: str | None, axe_source: str = "") -> Page:
    context = browser_context(viewport=DESKTOP)
    if axe_source:
        context.add_init_script(script=axe_source)
    page = context.new_page()
    if username:
        sign_in(page, username)
    return page


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_placeholder("Email").fill(f"{username}@example.com")
    page.get_by_placeholder("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status")).to_have_text(f"Signed in as {username}.")


def submit_empty(path: str, button: str) -> Callable[[Page], None]:
    def state(page: Page) -> None:
        page.goto(path)
        page.get_by_role("button", name=button).click()
        expect(page.locator(".field-errors, .error-messages").first).to_be_visible()

    return state


def visit(path: str) -> Callable[[Page], None]:
    return lambda page: page.goto(path) and None


def publish_with_errors(slug: str) -> Callable[[Page], None]:
    def state(page: Page) -> None:
        page.goto(f"/editor/{slug}")
        page.get_by_placeholder("Article Title").fill("")
        page.get_by_role("button", name="Update Article").click()
        expect(page.locator(".field-errors").first).to_be_visible()

    return state


def settings_with_errors(page: Page) -> None:
    page.goto("/settings")
    page.get_by_placeholder("Email", exact=True).fill("not an email")
    page.get_by_role("button", name="Update Settings").click()
    expect(page.locator(".field-errors").first).to_be_visible()


def after_publishing(page: Page) -> None:
    page.goto("/editor")
    page.get_by_placeholder("Article Title").fill("Fresh")
    page.get_by_placeholder("What's this article about?").fill("d")
    page.get_by_placeholder("Write your article (in markdown)").fill("b")
    page.get_by_role("button", name="Publish Article").click()
    expect(page.get_by_role("status")).to_contain_text("is published")


def page_states(slug: str) -> dict[str | None, dict[str, Callable[[Page], None]]]:
    """Each visitor's page states: what the browser does to reach it."""
    return {
        None: {
            "home": visit("/"),
            "home page 2": visit("/?page=2"),
            "home by tag": visit("/?tag=dragons"),
            "sign in": visit("/login"),
            "sign in with errors": submit_empty("/login", "Sign in"),
            "sign up": visit("/register"),
            "sign up with errors": submit_empty("/register", "Sign up"),
            "article": visit(f"/article/{slug}"),
            "profile articles": visit("/profile/alice"),
            "profile favorites": visit("/profile/bob/favorites"),
            "unknown address 404": visit("/nowhere"),
            "unknown article 404": visit("/article/nope"),
        },
        "alice": {
            "home signed in": visit("/"),
            "your feed": visit("/?feed=yours"),
            "article as its author": visit(f"/article/{slug}"),
            "editor new": visit("/editor"),
            "editor new with errors": submit_empty("/editor", "Publish Article"),
            "editor edit": visit(f"/editor/{slug}"),
            "editor edit with errors": publish_with_errors(slug),
            "settings": visit("/settings"),
            "settings with errors": settings_with_errors,
            "own profile": visit("/profile/alice"),
            "after publishing (flash)": after_publishing,
        },
        "bob": {
            "article as a reader with comments": visit(f"/article/{slug}"),
            "own favorites": visit("/profile/bob/favorites"),
            "someone else's article in the editor 403": visit(f"/editor/{slug}"),
        },
    }


def axe_violations(page: Page) -> list[str]:
    """axe's violations of the page as it is now, one line per rule with its nodes."""
    found = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {
                runOnly: { type: "tag", values: tags }, resultTypes: ["violations"],
            });
            return result.violations.map(v => `${v.id} (${v.impact}): ${v.help}: ` +
                v.nodes.slice(0, 5).map(n => n.target.join(" ")).join(" | "));
        }""",
        AXE_TAGS,
    )
    return list(found)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_state_has_no_axe_violation_and_one_h1(browser_context, axe_source, site, width):
    # given each visitor's browser at this width
    problems: dict[str, list[str]] = {}
    checked = 0
    for username, states in page_states(site["dragons"]).items():
        page = signed_in_page(browser_context, username, axe_source)
        page.set_viewport_size(WIDTHS[width])
        for name, reach in states.items():
            # when it reaches the state
            reach(page)

            # then axe finds nothing (any impact), and the page has exactly one h1
            found = axe_violations(page)
            screenshot(page, f"{width}-{username or 'anonymous'}-{name}")
            h1s = page.locator("h1").count()
            if h1s != 1:
                found.append(f"{h1s} h1 elements")
            if found:
                problems[f"{username or 'anonymous'}: {name} ({page.url})"] = found
            checked += 1

    assert checked == 26
    report = "\n".join(f"{state}:\n  " + "\n  ".join(lines) for state, lines in problems.items())
    assert not problems, report


def test_axe_finds_a_violation_when_there_is_one(browser_context, axe_source, site):
    # given a page where a link loses its name (what the avatar links were)
    page = signed_in_page(browser_context, None, axe_source)
    page.goto("/")
    page.evaluate("document.querySelector('.article-meta .author-name').remove()")

    # when axe runs, then it reports the nameless link
    assert any(line.startswith("link-name") for line in axe_violations(page))


def screenshot(page: Page, name: str) -> None:
    """The page as checked, for a person to look at: artifacts/web/accessibility/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    file_name = re.sub(r"[^\w.-]+", "_", name) + ".png"
    page.screenshot(path=str(ARTIFACTS / file_name), full_page=True)


def test_a_feed_has_one_link_per_author_and_named_favorite_toggles(browser_context, site):
    # given the home page: ten previews by alice
    page = signed_in_page(browser_context, None)
    page.goto("/")
    previews = page.locator(".article-preview")
    expect(previews).to_have_count(10)

    # then each preview has one link to alice (picture and name together) and a named toggle
    expect(page.get_by_role("link", name="alice", exact=True)).to_have_count(10)
    expect(page.locator('a[href="/profile/alice"]')).to_have_count(10)
    toggle = page.get_by_role("button", name="Favorite Dragons, favorites: 1", exact=True)
    expect(toggle).to_have_attribute("aria-pressed", "false")


def boxes(page: Page, selector: str) -> list[dict[str, float]]:
    return page.locator(selector).evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return {top: r.top, width: r.width, height: r.height}; })"
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_author_links_tag_pills_and_comment_buttons_are_at_least_24_px(
    browser_context, site, width
):
    # given alice on her article with comments, and the home page's tags
    page = signed_in_page(browser_context, "alice")
    page.set_viewport_size(WIDTHS[width])
    measured = {}
    targets = {
        f"/article/{site['dragons']}": [
            ".article-meta a.author",
            ".comment-author",
            ".mod-options button",
        ],
        "/": [".article-meta a.author", "a.tag-pill", ".favorite-form button", ".page-link"],
    }
    for path, selectors in targets.items():
        page.goto(path)
        for selector in selectors:
            measured[(path, selector)] = boxes(page, selector)

    # then every target is 24 x 24 px or larger
    small = {
        key: box
        for key, found in measured.items()
        for box in found
        if box["width"] < 24 or box["height"] < 24
    }
    assert all(measured.values())
    assert small == {}


@pytest.mark.parametrize("username", ["alice", "a-rather-long-name-for-a-phone", "x" * 64])
def test_the_signed_in_navbar_fits_two_rows_on_a_phone(browser_context, ctx, username):
    # given someone signed in on a 390 px screen
    register(ctx, username)
    page = signed_in_page(browser_context, username)
    page.set_viewport_size(PHONE)
    page.goto("/")

    # then the brand and the four links sit on at most two rows, inside the screen
    screenshot(page, f"navbar-{len(username)}")
    tops = {round(box["top"]) for box in boxes(page, ".navbar-brand, .navbar-nav .nav-item")}
    assert len(tops) <= 2, tops
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_popular_tags_come_after_the_feed_on_a_phone_and_in_the_document(browser_context, site):
    # given the home page on a phone
    page = signed_in_page(browser_context, None)
    page.set_viewport_size(PHONE)
    page.goto("/")

    # then the first article starts on the first screen, above the popular tags
    first = boxes(page, ".article-preview")[0]
    sidebar = boxes(page, ".sidebar")[0]
    assert first["top"] < PHONE["height"] / 2
    assert first["top"] < sidebar["top"]
    following = page.evaluate(
        "document.querySelector('.article-preview')"
        ".compareDocumentPosition(document.querySelector('.sidebar'))"
        " & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    assert following


def test_a_wide_code_block_scrolls_and_a_keyboard_reaches_it(browser_context, site):
    # given the article with a long code line on a phone
    page = signed_in_page(browser_context, None)
    page.set_viewport_size(PHONE)
    page.goto(f"/article/{site['dragons']}")
    block = page.locator(".article-body pre")

    # then it scrolls sideways, has a name, and Tab stops on it
    assert block.evaluate("e => e.scrollWidth > e.clientWidth")
    expect(block).to_have_attribute("aria-label", "Code example")
    for _ in range(30):
        page.keyboard.press("Tab")
        if block.evaluate("e => e === document.activeElement"):
            break
    else:
        raise AssertionError("Tab never reached the code block")
