"""Hostile input never runs in the browser; a forged form changes nothing."""

from __future__ import annotations

from playwright.sync_api import expect

from imflask_controllers import articles

PASSWORD = "correct horse battery"
SCRIPT = "<script>window.__xss='script';alert('script')</script>"
IMG = "<img src=x onerror=\"window.__xss='img';alert('img')\">"
MD_LINK = "[click me](javascript:window.__xss='link';alert('link'))"
HTML_LINK = "<a href=\"javascript:window.__xss='a';alert('a')\">raw link</a>"
EVERY_PAYLOAD = f"{SCRIPT} {IMG} {MD_LINK} {HTML_LINK}"


def assert_nothing_ran(page, dialogs: list[str]) -> None:
    """No dialog opened, no injected script set its marker, and the DOM holds no
    script, event handler or javascript: link that came from a user."""
    assert dialogs == []
    assert page.evaluate("window.__xss") is None
    sources = page.evaluate("[...document.scripts].map(s => s.getAttribute('src'))")
    assert sources == ["/static/conduit.js"]
    handlers = page.evaluate(
        "[...document.querySelectorAll('*')].flatMap(e => [...e.attributes])"
        ".filter(a => a.name.startsWith('on')).map(a => a.name)"
    )
    assert handlers == []
    assert page.locator("[href^='javascript:' i], [src^='javascript:' i]").count() == 0


def test_script_onerror_and_javascript_links_never_run_anywhere(page, conduit):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    conduit.sign_up("mallory", "mallory@example.com", PASSWORD)
    page.goto("/settings")
    page.get_by_placeholder("Short bio about you").fill(EVERY_PAYLOAD)
    page.get_by_role("button", name="Update Settings").click()
    expect(page.locator(".user-info .bio")).to_have_text(EVERY_PAYLOAD)
    assert_nothing_ran(page, dialogs)

    slug = conduit.publish(
        title=f"{SCRIPT}{IMG}",
        description=f"{IMG}{SCRIPT}",
        body=f"# Hello\n\n{SCRIPT}\n\n{IMG}\n\n{MD_LINK}\n\n{HTML_LINK}\n\n[fine](https://example.com)",
        tags="<script>alert('tag')</script>, <img src=x onerror=alert('tag')>",
    )
    expect(page.locator(".banner h1")).to_have_text(f"{SCRIPT}{IMG}")
    expect(page.locator(".article-body")).to_contain_text("<script>")
    expect(page.locator(".article-body")).to_contain_text("click me")
    safe_link = page.locator(".article-body a")
    expect(safe_link).to_have_attribute("href", "https://example.com")
    expect(safe_link).to_have_attribute("rel", "noopener noreferrer nofollow")
    page.get_by_placeholder("Write a comment...").fill(EVERY_PAYLOAD)
    page.get_by_role("button", name="Post Comment").click()
    expect(page.locator(".card.comment .card-text")).to_have_text(EVERY_PAYLOAD)
    # The markdown link is plain text: clicking it does nothing.
    page.locator(".article-body").get_by_text("click me").click()
    assert_nothing_ran(page, dialogs)

    for path in ("/", "/profile/mallory", f"/article/{slug}", "/?feed=yours"):
        page.goto(path)
        assert_nothing_ran(page, dialogs)
    page.goto("/")
    page.locator(".sidebar").get_by_text("<script>alert('tag')</script>").click()
    expect(page.locator(".article-preview h2")).to_have_text([f"{SCRIPT}{IMG}"])
    assert_nothing_ran(page, dialogs)
    page.locator(".sidebar").get_by_text("<img src=x onerror=alert('tag')>").click()
    expect(page.locator(".article-preview .tag-list li")).to_have_count(2)
    assert_nothing_ran(page, dialogs)


def test_a_form_with_a_forged_csrf_token_is_refused_and_changes_nothing(page, conduit, ctx):
    conduit.sign_up("alice", "alice@example.com", PASSWORD)
    page.goto("/editor")
    conduit.fill_editor(title="Forged", description="d", body="b")

    page.evaluate("document.querySelector('input[name=csrf_token]').value = 'forged'")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Publish Article").click()

    assert navigation.value.status == 400
    expect(page.locator(".error-page h1")).to_have_text("400")
    assert articles.list_articles(ctx, viewer=None).total == 0
