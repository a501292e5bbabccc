"""Conduit with a keyboard only: sign up, publish, comment, favorite, sign out, using Tab,
Shift+Tab, Enter, Space and typing (after the first address, no clicks and no filling),
and every element the keyboard lands on shows that it has the focus."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from imflask_controllers import articles, users

PASSWORD = "correct horse battery"
MAX_PRESSES = 80
# What the focused element looks like: a visible outline or ring, inside the window.
FOCUS = """() => {
    const e = document.activeElement;
    if (!e || e === document.body) return {tag: "body", focusVisible: false, visible: false};
    const style = getComputedStyle(e);
    const rect = e.getBoundingClientRect();
    const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
    const ring = style.boxShadow !== "none";
    const inWindow = rect.bottom > 0 && rect.right > 0
        && rect.top < innerHeight && rect.left < innerWidth;
    return {
        tag: e.tagName.toLowerCase(),
        text: (e.innerText || e.placeholder || "").trim().slice(0, 40),
        focusVisible: e.matches(":focus-visible"),
        visible: (outline || ring) && inWindow,
    };
}"""


def press_until_focused(page: Page, target: Locator, key: str = "Tab") -> int:
    """Press ``key`` until ``target`` has the focus; each element passed must show its focus."""
    page.wait_for_load_state("load")  # a key pressed while a page still loads goes nowhere
    expect(target).to_be_attached()
    left_page = False
    for presses in range(1, MAX_PRESSES + 1):
        page.keyboard.press(key)
        focused = page.evaluate(FOCUS)
        if focused["tag"] == "body":
            # Past the first or last element the focus leaves the page (a browser's address
            # bar; headless, the body): the next press comes back in at the other end.
            assert not left_page, "two presses in a row found nothing to focus"
            left_page = True
            continue
        left_page = False
        assert focused["focusVisible"], f"no :focus-visible on {focused}"
        assert focused["visible"], f"no outline or ring in the window on {focused}"
        if target.evaluate("e => e === document.activeElement"):
            return presses
    raise AssertionError(f"{key} never reached {target}")


def tab_and_type(page: Page, placeholder: str, text: str) -> None:
    press_until_focused(page, page.get_by_placeholder(placeholder, exact=True))
    page.keyboard.type(text)


def test_sign_up_publish_comment_favorite_and_sign_out_with_the_keyboard_only(page, ctx):
    alice = users.register_user(
        ctx, username="alice", email="alice@example.com", password=PASSWORD, client_ip="t"
    )
    dragons = articles.create_article(
        ctx,
        author=users.user_by_id(ctx, alice.id),
        title="Dragons",
        description="d",
        body="b",
        tags=[],
    )
    nav = page.locator("nav.navbar")
    page.goto("/")

    # the first Tab is the skip link, shown; Enter skips the navbar
    skip = page.get_by_role("link", name="Skip to content")
    assert press_until_focused(page, skip) == 1
    page.keyboard.press("Enter")
    press_until_focused(page, page.get_by_role("link", name="Global Feed"))
    assert press_until_focused(page, nav.get_by_role("link", name="Sign up"), "Shift+Tab") <= 5

    # sign up
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/register$"))
    tab_and_type(page, "Username", "carol")
    tab_and_type(page, "Email", "carol@example.com")
    tab_and_type(page, "Password", PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text(
        "Welcome to Conduit, carol! Your account is ready."
    )

    # publish
    press_until_focused(page, nav.get_by_role("link", name="New Article"))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/editor$"))
    tab_and_type(page, "Article Title", "Keyboards")
    tab_and_type(page, "What's this article about?", "Typing only")
    tab_and_type(page, "Write your article (in markdown)", "No mouse\nat all.")
    tab_and_type(page, "Enter tags, separated by commas", "keys")
    press_until_focused(page, page.get_by_role("button", name="Publish Article"))
    page.keyboard.press("Space")
    page.wait_for_url(re.compile(r"/article/keyboards$"))
    expect(page.get_by_role("status")).to_have_text("Your article “Keyboards” is published.")

    # comment on it
    tab_and_type(page, "Write a comment...", "Written with Tab and Enter")
    press_until_focused(page, page.get_by_role("button", name="Post Comment"))
    page.keyboard.press("Enter")
    expect(page.locator(".card.comment .card-text")).to_have_text(["Written with Tab and Enter"])

    # favorite alice's article from its page
    press_until_focused(page, nav.get_by_role("link", name="Home"), "Shift+Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))
    press_until_focused(page, page.locator(f'a.preview-link[href="/article/{dragons.slug}"]'))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(f"/article/{dragons.slug}$"))
    favorite = page.locator(".banner form[data-favorite] button")
    press_until_focused(page, favorite)
    page.keyboard.press("Space")
    expect(page.locator("form[data-favorite] button")).to_have_text(["Unfavorite Article (1)"] * 2)
    expect(favorite).to_be_focused()  # the script left the focus where the keyboard put it
    assert articles.get_article(ctx, slug=dragons.slug, viewer=None).favorites_count == 1

    # sign out
    press_until_focused(page, nav.get_by_role("link", name="Settings"), "Shift+Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/settings$"))
    press_until_focused(page, page.get_by_role("button", name="Or click here to logout."))
    page.keyboard.press("Enter")
    expect(nav.get_by_role("link", name="Sign in")).to_be_visible()
